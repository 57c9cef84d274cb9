"""Hostile input to the CLI's own options and to the history store, through the real command.

Read-only stores: the tests run as root in CI, where ``chmod 444`` does not stop a write
(root ignores file modes). ``sqlite:///PATH?mode=ro`` makes SQLite itself refuse every
write, for root too (SQLITE_READONLY, the same error a read-only file or mount gives), so
that is the case every run exercises; the ``chmod`` case runs in addition when not root.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from residency.store import open_store
from residency.store.migrations import MIGRATIONS, Migration, migrate
from tests.hostile.runner import Run, assert_clean_failure, run_cli
from tests.support import FIXTURES

AS_ROOT = os.geteuid() == 0


def one_line(run: Run, *words: str) -> str:
    """The run's single stderr line, which must name every one of ``words``."""
    lines = run.error_lines()
    assert len(lines) == 1, run.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny dataset made only from tests/fixtures (one GeoIP file, one ASN table)."""
    from residency.datasets.importer import import_files
    from residency.locate.locator import Locator
    from tests.locate.fixtures import write_maxmind_layout

    tmp = tmp_path_factory.mktemp("cli-data")
    directory = tmp / "datasets"
    geoip = write_maxmind_layout(tmp / "GeoLite2-Country-test.mmdb")
    for name, files in (
        ("dbip-country", [geoip]),
        ("ipdb-asn", [FIXTURES / "locate" / "asn-ipv4.csv"]),
    ):
        assert import_files(files, as_dataset=name, directory=directory).ok
    Locator.load(directory)  # compile once for the module
    return directory


def watched_store(path: Path) -> Path:
    store = open_store(str(path))
    from residency.store import TargetSpec

    store.add_targets([TargetSpec("a.example", jitter=0)], time.time() - 10)
    store.close()
    return path


# ------------------------------------------------------------------ monitor --once


def monitor_once(db: str) -> Run:
    # the subprocess deadline is the hang guard: before the fix, monitor backed off
    # 1, 2, 4 ... s for ever on a store it could not use
    return run_cli("monitor", "--once", "--no-log-alerts", "--db", db, timeout=60)


def test_monitor_once_on_a_read_only_store_exits_at_once(tmp_path: Path) -> None:
    path = watched_store(tmp_path / "h.sqlite3")
    run = monitor_once(f"sqlite:///{path}?mode=ro")
    assert_clean_failure(run, code=2)
    one_line(run, str(path), "read-only")


@pytest.mark.skipif(AS_ROOT, reason="root ignores file modes; the mode=ro case covers it")
def test_monitor_once_on_a_chmod_read_only_file(tmp_path: Path) -> None:
    path = watched_store(tmp_path / "h.sqlite3")
    path.chmod(0o444)
    run = monitor_once(str(path))
    assert_clean_failure(run, code=2)
    one_line(run, str(path))


def test_monitor_once_on_a_newer_schema_exits_at_once(tmp_path: Path) -> None:
    path = watched_store(tmp_path / "h.sqlite3")
    store = open_store(str(path))
    migrate(store.backend, (*MIGRATIONS, Migration(999, "future", lambda tx, d: None)))
    store.close()
    run = monitor_once(str(path))
    assert_clean_failure(run, code=2)
    one_line(run, str(path), "schema version 999")


@pytest.mark.parametrize(
    "content",
    [b"just some words, not a database\n" * 200, b"SQLite format 3\x00" + b"\xff" * 8192],
    ids=["not-a-database", "corrupt"],
)
def test_monitor_once_on_a_foreign_or_corrupt_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "h.sqlite3"
    path.write_bytes(content)
    run = monitor_once(str(path))
    assert_clean_failure(run, code=2)
    one_line(run, str(path))
    assert path.read_bytes() == content  # a file we do not understand is left as it was


# ------------------------------------------------------------------ ip --bulk


def bulk(dataset: Path, *args: str, stdin: bytes | None = None) -> Run:
    return run_cli(
        "ip", "--data-dir", str(dataset), "--bulk", *args, env={"RESIDENCY_GEOIP": ""}, stdin=stdin
    )


def rows(run: Run) -> list[str]:
    return [line.split("\t")[0] for line in run.stdout.splitlines()[1:]]


def test_bulk_missing_file_and_directory_are_one_line_each(dataset: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.txt"
    first.write_text("13.228.0.1\n1.1.1.1\n")
    last = tmp_path / "last.txt"
    last.write_text("52.66.1.1\n")
    missing = tmp_path / "nope.txt"
    run = bulk(dataset, str(first), str(missing), str(tmp_path), str(last))
    assert_clean_failure(run, code=2)
    lines = run.error_lines()
    assert lines == [
        f"residency: {missing}: no such file",
        f"residency: {tmp_path}: is a directory, not a file of addresses",
    ]
    # Rows read before the bad files are printed, and the file after them is still read.
    assert rows(run) == ["13.228.0.1", "1.1.1.1", "52.66.1.1"]


@pytest.mark.skipif(AS_ROOT, reason="root reads a chmod 000 file anyway")
def test_bulk_unreadable_file(dataset: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("13.228.0.1\n")
    locked.chmod(0)
    run = bulk(dataset, str(locked))
    assert_clean_failure(run, code=2)
    one_line(run, str(locked), "cannot read")


def test_bulk_invalid_utf8_line_is_reported_and_the_rest_read(
    dataset: Path, tmp_path: Path
) -> None:
    listing = tmp_path / "ips.txt"
    listing.write_bytes(b"13.228.0.1\n\xff\xfe1.1.1.1\n1.1.1.1\n")
    run = bulk(dataset, str(listing))
    assert_clean_failure(run, code=2)
    one_line(run, f"{listing}:2: not UTF-8")
    assert rows(run) == ["13.228.0.1", "1.1.1.1"]


def test_bulk_huge_line_is_rejected_without_being_held_or_echoed(
    dataset: Path, tmp_path: Path
) -> None:
    listing = tmp_path / "ips.txt"
    with listing.open("wb") as out:
        out.write(b"13.228.0.1\n")
        for _ in range(64):  # one 64 MiB line
            out.write(b"9" * (1 << 20))
        out.write(b"\n1.1.1.1\n")
    run = bulk(dataset, str(listing))
    assert_clean_failure(run, code=2)
    one_line(run, f"{listing}:2: line longer than 4096 bytes")
    assert len(run.stderr) < 300
    assert rows(run) == ["13.228.0.1", "1.1.1.1"]


def test_bulk_bad_address_is_echoed_short(dataset: Path) -> None:
    run = bulk(dataset, "-", stdin=b"x" * 3000 + b"\n13.228.0.1\n")
    assert_clean_failure(run, code=2)
    line = one_line(run, "-:1:", "is not an IPv4 or IPv6 address")
    assert len(line) < 160
    assert rows(run) == ["13.228.0.1"]


# ------------------------------------------------------------------ audit -o


@pytest.mark.parametrize("case", ["directory", "missing-folder"])
def test_audit_output_path_is_checked_before_any_work(tmp_path: Path, case: str) -> None:
    target = tmp_path if case == "directory" else tmp_path / "no" / "such" / "report.json"
    db = tmp_path / "history.sqlite3"
    run = run_cli(
        "audit", "--no-resolve", "192.0.2.1", "-o", str(target), "--db", str(db), timeout=30
    )
    assert_clean_failure(run, code=2)
    one_line(run, str(target))
    assert run.stdout == "" and not db.exists()  # nothing was audited or recorded


@pytest.mark.skipif(AS_ROOT, reason="root may write into a read-only folder")
def test_audit_output_folder_not_writable(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    run = run_cli("audit", "--no-resolve", "192.0.2.1", "-o", str(folder / "r.json"))
    assert_clean_failure(run, code=2)
    one_line(run, "not writable")


# ------------------------------------------------------------------ durations and numbers


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["watch", "add", "a.example", "--cadence", "99999999999d"], "100 years"),
        (["watch", "add", "a.example", "--cadence", "400d"], "out of range"),
        (["watch", "add", "a.example", "--cadence", "1s"], "out of range"),
        (["watch", "add", "a.example", "--max-interval", "9999d"], "out of range"),
        (["report", "--since", "99999999d"], "100 years"),
        (["report", "--since", "0001-01-01"], "outside 1970-01-01 .. 9999-12-31"),
        (["report", "--since", "1d", "--until", "x" * 500], "not a date"),
        (["report", "--since", "2100-01-01"], "no data in the period"),
        (["report", "--since", "2020-01-02", "--until", "2020-01-01"], "empty period"),
    ],
)
def test_bad_durations_and_periods_are_one_line(
    tmp_path: Path, args: list[str], words: str
) -> None:
    db = tmp_path / "h.sqlite3"
    watched_store(db)
    run = run_cli(*args, "--db", str(db))
    assert_clean_failure(run, code=2)
    line = one_line(run, words)
    assert len(line) < 200  # a long argument is not echoed whole


def test_store_with_an_out_of_range_value_still_lists(tmp_path: Path) -> None:
    db = watched_store(tmp_path / "h.sqlite3")
    # As a store written before durations were bounded holds them.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE target SET cadence = 8.64e15, next_due = 8.64e15")
    run = run_cli("watch", "list", "--db", str(db))
    assert run.code == 0 and not run.traceback, run.stderr
    assert "a.example" in run.stdout and "next invalid" in run.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "--no-resolve", "--timeout", "0", "192.0.2.1"],
        ["audit", "--no-resolve", "--timeout", "nan", "192.0.2.1"],
        ["audit", "--no-resolve", "--timeout", "inf", "192.0.2.1"],
        ["audit", "--no-resolve", "--concurrency", "0", "192.0.2.1"],
        ["monitor", "--once", "--timeout", "-1"],
        ["monitor", "--once", "--concurrency", "0"],
        ["monitor", "--once", "--batch-size", "0"],
    ],
    ids=" ".join,
)
def test_zero_and_non_finite_numbers_are_refused(args: list[str]) -> None:
    run = run_cli(*args)
    assert_clean_failure(run, code=2)
    assert "Invalid value for" in run.stderr and run.stdout == ""


# ------------------------------------------------------------------ reading a missing store


@pytest.mark.parametrize(
    "command", [["runs"], ["history", "a.example"], ["diff"], ["watch", "list"]], ids=" ".join
)
def test_reading_commands_do_not_create_a_store(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "typo" / "history.sqlite3"
    run = run_cli(*command, "--db", str(db))
    assert_clean_failure(run, code=2)
    one_line(run, f"no history store at {db}")
    assert not (tmp_path / "typo").exists()
