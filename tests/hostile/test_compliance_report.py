"""The compliance document from the real CLI: a bad output path or format is one clear line,
and an empty period says so instead of printing an empty document."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.runner import assert_clean_failure, run_cli
from tests.report.test_compliance import history


def test_unwritable_output_is_one_line_and_the_store_is_intact(tmp_path: Path) -> None:
    db = history(tmp_path)
    bad = tmp_path / "missing-folder" / "report.html"
    run = run_cli(
        *("report", "--since", "2023-11-14", "--until", "2023-11-16", "--format", "html"),
        *("-o", str(bad), "--db", db),
    )
    assert_clean_failure(run, mentions="does not exist")  # checked before any work
    assert len(run.error_lines()) == 1 and str(bad) in run.stderr
    # Nothing stored was lost: the same report still renders.
    again = run_cli(
        *("report", "--since", "2023-11-14", "--until", "2023-11-16", "--format", "csv"),
        *("--db", db),
    )
    assert again.code == 0 and "192.0.2.9" in again.stdout


def test_unknown_format_and_empty_period(tmp_path: Path) -> None:
    db = history(tmp_path)
    run = run_cli("report", "--since", "2023-11-14", "--format", "pdf", "--db", db)
    assert_clean_failure(run, mentions="pdf")
    empty = run_cli(
        *("report", "--since", "2020-01-01", "--until", "2020-02-01", "--format", "json"),
        *("--db", db),
    )
    assert empty.code == 0 and not empty.traceback
    assert '"no_data": "no endpoint was checked between 2020-01-01' in empty.stdout
