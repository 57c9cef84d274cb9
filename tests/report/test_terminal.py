"""The default terminal report: one line per endpoint, then one group per reason.

Rendered in-process at 80 and 120 columns, and through the real CLI on a pty (read back
with pyte, as a terminal would show it) and through a pipe (a CI log)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from residency.model import AuditResult, Endpoint, Verdict
from residency.report import RenderOptions, render
from residency.report.terminal import end_cut, middle_cut, short_names, tail_kept
from tests.report.sample import POLICY, TODAY, judged, unjudged

LONG = "api.account.very-long-subdomain-name.services.eu-west.example.test"


def sample(policy: str = POLICY, long_name: bool = True) -> AuditResult:
    """The report fixture, with one endpoint renamed to a name too long for any column."""
    from residency.policy import apply_policy
    from tests.policy.factories import policy as load

    audit = unjudged()
    if long_name:
        first = audit.endpoints[2]  # analytics: judged by the policy-wide rule
        renamed = replace(first, endpoint=Endpoint(LONG, LONG, "hosts.txt:3"))
        audit = replace(audit, endpoints=(*audit.endpoints[:2], renamed, *audit.endpoints[3:]))
    return apply_policy(load(policy, "shop-residency.toml"), audit, TODAY)


WARNING_POLICY = 'cdn = "warn"\n' + POLICY


def table_and_rest(text: str) -> tuple[list[str], list[str]]:
    lines = text.splitlines()
    end = lines.index("") if "" in lines else len(lines)
    return lines[:end], lines[end:]


def assert_no_empty_sections(lines: list[str]) -> None:
    for before, after in zip(lines, [*lines[1:], ""], strict=True):
        assert not (before == "" and after == ""), "two blank lines: an empty section"
        if after == "":
            assert not before.rstrip().endswith((":", "—")), f"a heading with nothing: {before!r}"
    assert "by controller:" not in lines and "by domain:" not in lines


def assert_cut_marked(cell: str, full: str) -> None:
    """A cell shows ``full`` whole, or parts of it joined by an explicit "…"."""
    if cell == full:
        return
    assert "…" in cell, f"{full!r} cut silently to {cell!r}"
    head, _, tail = cell.partition("…")
    assert full.startswith(head) and full.endswith(tail), (cell, full)


@pytest.mark.parametrize("width", [80, 120])
def test_one_line_per_endpoint_inside_the_width(width: int) -> None:
    result = sample()
    text = render(result, "terminal", RenderOptions(width=width))
    table, _ = table_and_rest(text)
    assert max(len(line) for line in text.splitlines()) <= width
    assert table[0].split() == ["VERDICT", "ENDPOINT", "WHERE", "HOST", "OPERATOR"]
    assert len(table) == 1 + len(result.endpoints)  # no row is folded onto a second line
    start = table[0].index("ENDPOINT")
    end = table[0].index("WHERE")
    for line, endpoint in zip(table[1:], result.endpoints, strict=True):
        assert line.split()[0] == endpoint.verdict.verdict.name
        assert_cut_marked(line[start:end].rstrip(), endpoint.endpoint.display)
    assert "\x1b[" not in text
    assert "198.51.100.7" not in text  # addresses only with -v / --details
    assert_no_empty_sections(text.splitlines())


@pytest.mark.parametrize("width", [80, 120])
def test_findings_grouped_by_reason(width: int) -> None:
    text = render(sample(WARNING_POLICY), "terminal", RenderOptions(width=width))
    _, rest = table_and_rest(text)
    groups = [line for line in rest if line[:1].strip()]
    verdicts = [line.split()[0] for line in groups if line.split()[0].isupper()]
    # worst first: FAIL, then INDETERMINATE, then WARN, then WAIVED
    order = [Verdict[v].severity for v in verdicts if v in Verdict.__members__]
    assert order == sorted(order, reverse=True)
    body = "\n".join(rest)
    located = next(line for line in groups if "outside the allowed countries" in line)
    assert located.startswith("FAIL") and "(IN, @EU)" in located
    assert "US: api.account…" in body  # named by its first labels, with the country
    warned = next(line for line in groups if line.startswith("WARN"))
    assert "= warn)" in warned  # the policy setting that made it a warning
    assert "cloudflare: cdn.shop…" in body
    assert any(line.startswith("WAIVED") and "until 2027-03-31" in line for line in groups)
    # nothing repeats the table: no row per endpoint below it
    assert "platform-team" in body and body.count("legacy…") == 1


def test_warn_is_its_own_verdict_and_colour() -> None:
    result = sample(WARNING_POLICY)
    row = next(e for e in result.endpoints if e.endpoint.host == "cdn.shop.example")
    assert row.verdict is not None and row.verdict.verdict is Verdict.WARN
    text = render(result, "terminal", RenderOptions(width=120))
    assert re.search(r"^WARN +cdn\.shop\.example ", text, re.M)
    coloured = render(result, "terminal", RenderOptions(width=120, color=True))
    assert "\x1b[1;33mWARN" in coloured  # yellow, where INDETERMINATE is magenta
    assert "\x1b[1;35mINDETERMINATE" in coloured


@pytest.mark.parametrize("width", [80, 120])
def test_controller_column_inside_the_width(width: int) -> None:
    from residency.model import Confidence, Controller

    result = sample()
    owner = Controller("Beijing Kitephone Mobile Software Co., Ltd.", "CN", "ov", Confidence.HIGH)
    endpoints = tuple(replace(e, controller=owner) for e in result.endpoints)
    text = render(replace(result, endpoints=endpoints), "terminal", RenderOptions(width=width))
    table, _ = table_and_rest(text)
    assert table[0].split()[-1] == "CONTROLLER"
    assert max(len(line) for line in text.splitlines()) <= width
    start = table[0].index("CONTROLLER")
    for line in table[1:]:
        assert_cut_marked(
            line[start:].rstrip().removesuffix(" (CN)"), "Beijing Kitephone Mobile Software"
        )
        assert line.rstrip().endswith("(CN)")  # the country survives any cut


def test_details_for_one_endpoint() -> None:
    text = render(judged(), "terminal", RenderOptions(details="analytics.shop.example"))
    assert "198.51.100.7" in text and "pay.shop.example" not in text
    missing = render(judged(), "terminal", RenderOptions(details="nope.example"))
    assert "no endpoint 'nope.example'" in missing


def test_unjudged_has_no_verdict_column_nor_groups() -> None:
    text = render(unjudged(), "terminal", RenderOptions(width=80))
    table, rest = table_and_rest(text)
    assert table[0].split()[0] == "ENDPOINT"
    assert not any(line.startswith(("FAIL", "PASS", "WARN")) for line in rest)
    assert_no_empty_sections(text.splitlines())


def test_cutting_is_always_marked() -> None:
    cut = middle_cut(LONG, 24)
    assert len(cut) == 24 and "…" in cut and cut.endswith(".test")
    assert_cut_marked(cut, LONG)
    assert middle_cut("pay.shop.example", 24) == "pay.shop.example"
    assert end_cut("aws:ap-southeast-1", 10) == "aws:ap-so…"
    assert tail_kept("Amazon Web Services (US)", 14) == "Amazon W… (US)"
    names = short_names([LONG, "api.other.example", "cdn.shop.example", "10.0.0.5"], 24)
    assert names[LONG] == "api.account…" and names["cdn.shop.example"] == "cdn.shop…"
    assert names["10.0.0.5"] == "10.0.0.5"


# ------------------------------------------------------------------ the real CLI

ZONE = """$ORIGIN example.test.
$TTL 300
@ IN SOA ns hostmaster 1 3600 600 86400 300
{long}. IN A 13.228.0.1
global-load-balancer.frontend.example.test. IN A 34.102.128.1
frankfurt.storage.example.test. IN A 3.120.0.1
"""


def cli_args(tmp_path: Path, *extra: str) -> list[str]:
    zone = tmp_path / "app.zone"
    zone.write_text(ZONE.format(long=LONG), encoding="utf-8")
    command = [sys.executable, "-m", "residency", "audit", "--zone", str(zone), "--no-resolve"]
    return [*command, "--policy", "eu-only-gdpr", *extra]


def cli_env(dataset: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    return {**env, "RESIDENCY_DATA_DIR": str(dataset), "TERM": "xterm-256color", **extra}


def on_pty(args: list[str], env: dict[str, str], columns: int) -> Any:
    """Runs ``args`` with a pty of ``columns`` as stdout; the screen a terminal would show."""
    import fcntl
    import pty
    import struct
    import termios

    pyte = pytest.importorskip("pyte")
    rows = 60
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    child = subprocess.Popen(args, stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert child.wait(timeout=300) in (0, 1)
    screen = pyte.Screen(columns, rows)
    pyte.ByteStream(screen).feed(output)
    return screen


@pytest.mark.parametrize("columns", [80, 120])
def test_on_a_real_terminal(tmp_path: Path, small_dataset: Path, columns: int) -> None:
    screen = on_pty(cli_args(tmp_path), cli_env(small_dataset), columns)
    shown = [line.rstrip() for line in screen.display]
    while shown and not shown[-1]:
        shown.pop()
    table, rest = table_and_rest("\n".join(shown))
    assert table[0].split()[:2] == ["VERDICT", "ENDPOINT"]
    # one screen line per endpoint: nothing wrapped by the terminal
    # eu-only-gdpr 2.0 warns where no evidence names the recipient (unknown_controller)
    assert [line.split()[0] for line in table[1:]] == ["FAIL", "WARN", "WARN"]
    start, end = table[0].index("ENDPOINT"), table[0].index("WHERE")
    assert_cut_marked(table[1][start:end].rstrip(), LONG)
    assert "frankfurt.storage.example.test" in table[3]
    assert any(line.startswith("WARN") and "anycast" in line for line in rest)
    assert_no_empty_sections(shown)
    # colours on a terminal: the verdicts' cells are coloured, the names are not
    buffer = screen.buffer
    assert buffer[1][0].fg == "red" and buffer[2][0].fg == "brown"  # pyte's name for yellow
    assert buffer[1][start].fg == "default"


def test_no_color_on_a_terminal(tmp_path: Path, small_dataset: Path) -> None:
    screen = on_pty(cli_args(tmp_path), cli_env(small_dataset, NO_COLOR="1"), 80)
    assert screen.buffer[1][0].fg == "default"
    forced = on_pty(
        cli_args(tmp_path, "--color", "always"), cli_env(small_dataset, NO_COLOR="1"), 80
    )
    assert forced.buffer[1][0].fg == "red"
    never = on_pty(cli_args(tmp_path, "--color", "never"), cli_env(small_dataset), 80)
    assert never.buffer[1][0].fg == "default"


def test_piped_stays_readable_at_80_columns(tmp_path: Path, small_dataset: Path) -> None:
    done = subprocess.run(
        cli_args(tmp_path),
        capture_output=True,
        text=True,
        env=cli_env(small_dataset),
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # a FAIL; WARN alone would be 0
    lines = done.stdout.splitlines()
    assert "\x1b[" not in done.stdout
    assert max(len(line) for line in lines) <= 80
    table, _ = table_and_rest(done.stdout)
    assert len(table) == 4
    start, end = table[0].index("ENDPOINT"), table[0].index("WHERE")
    for line, name in zip(
        table[1:],
        [LONG, "global-load-balancer.frontend.example.test", "frankfurt.storage"],
        strict=True,
    ):
        cell = line[start:end].rstrip()
        if name.startswith("frankfurt"):
            assert cell == "frankfurt.storage.example.test"
        else:
            assert_cut_marked(cell, name)
    assert_no_empty_sections(lines)
