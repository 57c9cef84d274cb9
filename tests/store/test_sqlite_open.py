"""Two monitors opening a new SQLite file at once: setting WAL mode is retried like any
transient lock, never an exit with "locked" (issue 18, item 21)."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from residency.store import StoreLocked, TargetSpec, open_store
from residency.store.sqlite import SqliteBackend


class RefusedTwice(SqliteBackend):
    """SQLite refuses the journal switch at once (SQLITE_BUSY) twice, then allows it."""

    refusals = 0

    def _journal_wal(self, conn: sqlite3.Connection) -> None:
        if RefusedTwice.refusals < 2:
            RefusedTwice.refusals += 1
            raise sqlite3.OperationalError("database is locked")
        super()._journal_wal(conn)


def test_wal_switch_refused_at_open_is_retried(tmp_path: Path) -> None:
    backend = RefusedTwice(str(tmp_path / "h.sqlite3"), timeout=5)
    try:
        assert RefusedTwice.refusals == 2
        with backend.transaction(write=False) as tx:
            assert tx.execute("PRAGMA journal_mode").scalar() == "wal"
    finally:
        backend.close()


class AlwaysRefused(SqliteBackend):
    def _journal_wal(self, conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("database is locked")


def test_wal_switch_refused_for_longer_than_the_timeout_is_locked(tmp_path: Path) -> None:
    with pytest.raises(StoreLocked):
        AlwaysRefused(str(tmp_path / "h.sqlite3"), timeout=0.2)


def _open_and_write(path: str, start: object, host: str) -> None:
    start.wait()  # type: ignore[attr-defined]
    store = open_store(path)
    try:
        store.add_targets([TargetSpec(host)], 0)
    finally:
        store.close()


def test_two_processes_open_a_new_file_together(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_ in range(20):
        path = str(tmp_path / f"h{round_}.sqlite3")
        start = context.Event()
        procs = [
            context.Process(target=_open_and_write, args=(path, start, f"w{k}.example"))
            for k in range(2)
        ]
        for proc in procs:
            proc.start()
        start.set()
        for proc in procs:
            proc.join(60)
        assert [p.exitcode for p in procs] == [0, 0], f"round {round_}"
        store = open_store(path)
        assert store.target_count() == 2
        store.close()
