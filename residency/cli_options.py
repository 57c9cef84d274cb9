"""The command line's shared option declarations and its sectioned help (CLI side only).

Every option that several commands take is declared once here (``--db``, ``--json``,
``--data-dir``, ``-o/--output``, ``--format``, ``--nameserver``, ``--timeout``,
``--concurrency``), so a command cannot spell it differently. Defaults are given to
click with ``show_default=True``, never typed into help text.

Help sections: ``SectionedCommand`` prints a command's options under titled sections
(``residency audit --help`` puts probe tuning under "Probe options"). It is a small
override of ``click.Command.format_options`` rather than rich-click or
click-option-group: rich-click would import rich at start-up (a cold ``residency ip``
must not, tests/locate/test_cold_start.py) and restyle every help page; with
click-option-group each option would have to be declared inside its group, so an option
added later in another branch would have to know the groups. Here a command lists which
options go in which section; anything not listed stays under "Options".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from residency.paths import DB_ENV

F = TypeVar("F", bound=Callable[..., Any])


class PositiveNumber(click.FloatRange):
    """A finite number above zero (``nan``/``inf`` pass FloatRange's comparisons)."""

    name = "positive number"

    def __init__(self) -> None:
        super().__init__(min=0.0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number above 0", param, ctx)
        return number


POSITIVE = PositiveNumber()
AT_LEAST_ONE = click.IntRange(min=1)


class SectionedCommand(click.Command):
    """A command whose ``--help`` lists options under titled sections.

    ``sections`` maps a title to the parameter names (the Python names, e.g.
    ``probe_port``) shown under it, in that order of sections; the rest stay under
    "Options", printed last."""

    def __init__(
        self, *args: Any, sections: Mapping[str, Sequence[str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sections: dict[str, tuple[str, ...]] = {
            title: tuple(names) for title, names in (sections or {}).items()
        }

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        section_of = {name: title for title, names in self.sections.items() for name in names}
        rows: dict[str, list[tuple[str, str]]] = {title: [] for title in self.sections}
        rows["Options"] = []  # the rest, and --help, last
        for param in self.get_params(ctx):
            if not isinstance(param, click.Option):
                continue  # arguments are named in the usage line and the command's help
            record = param.get_help_record(ctx)
            if record is not None:
                rows[section_of.get(param.name or "", "Options")].append(record)
        for title, records in rows.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


def json_option(subject: str, *, alias_of_format: bool = False) -> Callable[[F], F]:
    """``--json``: print ``subject`` (e.g. "the timeline") as JSON instead of text; with
    ``alias_of_format`` the command also has ``--format`` and this is ``--format json``."""
    same = " (the same as --format json)" if alias_of_format else ""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {subject} as JSON{same}.")


def format_option(
    choices: Iterable[str], default: str, help_text: str, *, dest: str = "fmt"
) -> Callable[[F], F]:
    """``--format``: the output document; ``--json`` is the same as ``--format json``."""
    return click.option(
        "--format",
        dest,
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help=help_text,
    )


def output_option(subject: str) -> Callable[[F], F]:
    """``-o/--output FILE``: write ``subject`` to a file instead of stdout."""
    return click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path),  # checked by the command: one line, not click's usage
        metavar="FILE",
        help=f"Write {subject} to FILE instead of stdout.",
    )


def data_dir_option() -> Callable[[F], F]:
    """``--data-dir``: the dataset directory."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        metavar="DIR",
        help="Dataset directory (default: $RESIDENCY_DATA_DIR, else the user data directory).",
    )


def db_option(help_text: str | None = None, *, from_env: bool = True) -> Callable[[F], F]:
    """``--db URL|PATH``: the history database. ``from_env`` reads $RESIDENCY_DB when the
    option is not given (commands that write only when asked, like ``audit``, do not)."""
    return click.option(
        "--db",
        metavar="URL|PATH",
        envvar=DB_ENV if from_env else None,
        help=help_text
        or f"History database: a SQLite path or postgresql://... (default ${DB_ENV}, "
        "else the user data directory).",
    )


def nameserver_option(*flags: str) -> Callable[[F], F]:
    """``--nameserver`` (repeatable; ``flags`` adds short forms such as ``-n``)."""
    return click.option(
        *flags,
        "--nameserver",
        "nameservers",
        multiple=True,
        metavar="ADDR[:PORT]",
        help="Resolver to ask (repeatable); default: the system's.",
    )


def timeout_option(help_text: str) -> Callable[[F], F]:
    """``--timeout``: seconds per DNS query."""
    return click.option("--timeout", default=3.0, show_default=True, type=POSITIVE, help=help_text)


def concurrency_option(help_text: str) -> Callable[[F], F]:
    """``--concurrency``: resolutions in flight."""
    return click.option(
        "--concurrency", default=256, show_default=True, type=AT_LEAST_ONE, help=help_text
    )


def geoip_option() -> Callable[[F], F]:
    """``--geoip MMDB`` (repeatable): GeoIP files of the user's, beside the dataset."""
    return click.option(
        "--geoip",
        "geoip",
        multiple=True,
        type=click.Path(path_type=Path),
        metavar="MMDB",
        help="Extra GeoIP mmdb file, e.g. GeoLite2 from geoipupdate (repeatable; also "
        "$RESIDENCY_GEOIP).",
    )


def rdap_option() -> Callable[[F], F]:
    """``--rdap/--no-rdap``: registration facts from RDAP (contacts the RDAP services)."""
    return click.option(
        "--rdap/--no-rdap",
        default=False,
        show_default=True,
        help="Add registration facts from RDAP (network access needed).",
    )


def rdap_url_option() -> Callable[[F], F]:
    """``--rdap-url URL``: the RDAP base URL."""
    return click.option(
        "--rdap-url",
        metavar="URL",
        help="RDAP base URL (default: $RESIDENCY_RDAP_URL, else the rdap.org redirector).",
    )


def crawl_options(func: F) -> F:
    """The options of a crawl in Chromium (``audit --crawl`` and ``crawl``)."""
    options = [
        click.option(
            "--crawl-pages", type=AT_LEAST_ONE, help="Pages to visit, the start page included (1)."
        ),
        click.option(
            "--crawl-depth", type=click.IntRange(min=0), help="Link hops from the start page (1)."
        ),
        click.option(
            "--consent",
            type=click.Choice(["accept", "reject"]),
            help="After recording the untouched page, click the consent banner's button "
            "(shipped table of consent platforms).",
        ),
        click.option(
            "--consent-click", metavar="SELECTOR", help="Click this CSS selector instead."
        ),
        click.option("--browser", metavar="PATH", help="Chromium to drive (default: on PATH)."),
        click.option("--page-timeout", type=POSITIVE, help="Seconds per page (30)."),
        click.option("--crawl-timeout", type=POSITIVE, help="Seconds for the whole crawl (300)."),
        click.option("--max-requests", type=AT_LEAST_ONE, help="Requests recorded at most (5000)."),
        click.option(
            "--settle",
            type=click.FloatRange(min=0),
            help="Seconds to keep recording after a page loaded (2).",
        ),
        click.option("--ignore-robots", is_flag=True, help="Do not obey robots.txt."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
