"""The default terminal table: one row per endpoint, inside the terminal width."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from residency.report import RenderOptions, render
from tests.report.sample import judged, unjudged


@pytest.mark.parametrize("width", [80, 120])
def test_summary_fits_the_width(width: int) -> None:
    text = render(judged(), "terminal", RenderOptions(width=width))
    table = text.split("\n\n")[0].splitlines()
    assert max(len(line) for line in table) <= width
    assert table[0].split()[:4] == ["VERDICT", "ENDPOINT", "WHERE", "HOST"]
    assert "\x1b[" not in text
    result = judged()
    # every endpoint starts exactly one row (continuation lines have a blank verdict)
    starts = [line for line in table[1:] if line[:1].strip()]
    assert len(starts) == len(result.endpoints)


def test_summary_counts_countries_and_hides_addresses() -> None:
    text = render(judged(), "terminal", RenderOptions(width=120))
    analytics = next(line for line in text.splitlines() if "analytics.shop.example" in line)
    assert analytics.startswith("FAIL") and " US" in analytics
    assert "198.51.100.7" not in text  # addresses only with -v / --details


def test_details_for_one_endpoint() -> None:
    text = render(judged(), "terminal", RenderOptions(details="analytics.shop.example"))
    assert "198.51.100.7" in text and "pay.shop.example" not in text
    missing = render(judged(), "terminal", RenderOptions(details="nope.example"))
    assert "no endpoint 'nope.example'" in missing


def test_unjudged_has_no_verdict_column_and_colour_only_when_asked() -> None:
    plain = render(unjudged(), "terminal", RenderOptions(width=80)).splitlines()
    assert plain[0].split()[0] == "ENDPOINT"
    coloured = render(judged(), "terminal", RenderOptions(width=80, color=True))
    assert "\x1b[" in coloured


def test_cli_honours_columns(small_dataset: Path) -> None:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "RESIDENCY_DATA_DIR": str(small_dataset)}
    done = subprocess.run(
        [sys.executable, "-m", "residency", "audit", "--no-resolve", "13.228.0.1", "10.1.2.3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["ENDPOINT", "WHERE", "HOST"]
    assert max(len(line) for line in lines) <= 80 and "\x1b[" not in done.stdout


def test_narrow_terminal_keeps_rows_short() -> None:
    # At 80 columns the WHY column is ~16 wide: the reason is cut to about three lines of
    # it, the sides are abbreviated, and a legend says where the rest is.
    text = render(judged(), "terminal", RenderOptions(width=80))
    table = text.split("\n\n")[0].splitlines()
    rows: list[list[str]] = []
    for line in table[1:]:
        if line[:1].strip():
            rows.append([])
        rows[-1].append(line)
    assert max(len(row) for row in rows) <= 6, "\n".join(max(rows, key=len))
    if "(+" in text:
        assert "(+N): N more reasons; -v, or --details ENDPOINT, shows them all" in text
    wide = render(judged(), "terminal", RenderOptions(width=160))
    assert "(+N)" not in wide and "(+N): N more" not in wide


def test_narrow_terminal_breaks_names_after_a_dot() -> None:
    from residency.report.terminal import at_dots

    assert (
        at_dots("app.kitephone.demo.residency.test", 17) == "app.kitephone.\ndemo.residency.\ntest"
    )
    assert at_dots("pay.shop.example", 17) == "pay.shop.example"
    assert at_dots("2001:db8::1", 17) == "2001:db8::1"
    table = render(judged(), "terminal", RenderOptions(width=80)).split("\n\n")[0].splitlines()
    start = next(i for i, line in enumerate(table) if "analytics.shop." in line)
    assert table[start].split()[1] == "analytics.shop."
    assert table[start + 1].split()[0] == "example"  # the next label, not "ample"
