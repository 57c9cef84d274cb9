"""Bad database input gets one clear line: broken URL, server down, locked or foreign file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from residency.store import (
    StoreCannotOpen,
    StoreCorrupt,
    StoreLocked,
    StoreMissing,
    StorePermanentError,
    StoreReadOnly,
    StoreTransientError,
    StoreUnavailable,
    StoreUrlInvalid,
    TargetSpec,
    open_store,
)
from residency.store.migrations import MIGRATIONS, Migration, migrate
from tests.integration.pg import _free_port
from tests.store.builders import Addr, Host, audit_result


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://db.example/x", "unknown scheme 'mysql'"),
        ("sqlite://", "no file path"),
        ("postgresql://[bad/db", "is not valid"),
        ("postgresql://127.0.0.1:notaport/db", "is not valid"),
        ("postgresql:///db?nonsense=1", "is not valid"),
    ],
)
def test_broken_urls(url: str, words: str) -> None:
    with pytest.raises(StoreUrlInvalid) as err:
        open_store(url)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_unreachable_postgres_names_server_without_password() -> None:
    port = _free_port()  # nothing listens there
    with pytest.raises(StoreUnavailable) as err:
        open_store(f"postgresql://alice:s3cret@127.0.0.1:{port}/history", timeout=2)
    text = str(err.value)
    assert f"127.0.0.1:{port}" in text and "s3cret" not in text and "\n" not in text


def test_locked_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    open_store(str(path)).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        store = open_store(str(path), timeout=0.2)
        with pytest.raises(StoreLocked) as err:
            store.record(audit_result("r", 1, [Host("a.example", (Addr("192.0.2.1"),))]))
        assert str(path) in str(err.value) and "locked" in str(err.value)
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not sqlite at all, just some words" * 100)
    with pytest.raises(StoreCorrupt) as err:
        open_store(str(path))
    assert str(path) in str(err.value)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "h.sqlite3")
    store = open_store(path)
    migrate(store.backend, (*MIGRATIONS, Migration(500, "future", lambda tx, d: None)))
    store.close()
    with pytest.raises(StoreCorrupt) as err:
        open_store(path)
    assert "schema version 500" in str(err.value)


def test_env_and_default_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from residency.store import resolve_location

    monkeypatch.setenv("RESIDENCY_DB", str(tmp_path / "env.sqlite3"))
    assert resolve_location(None) == ("sqlite", str(tmp_path / "env.sqlite3"))
    assert resolve_location("sqlite:////abs/h.db") == ("sqlite", "/abs/h.db")
    assert resolve_location("postgresql://h/db")[0] == "postgresql"
    monkeypatch.delenv("RESIDENCY_DB")
    assert resolve_location(None)[1].endswith("history.sqlite3")


def seeded(path: Path) -> None:
    store = open_store(str(path))
    store.add_targets([TargetSpec("a.example")], 100.0)
    store.close()


def test_read_only_sqlite_is_a_permanent_error(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    seeded(path)
    store = open_store(f"sqlite:///{path}?mode=ro")
    try:
        assert [t.host for t in store.list_targets()] == ["a.example"]  # reading works
        with pytest.raises(StoreReadOnly) as err:
            store.check_writable()
        assert isinstance(err.value, StorePermanentError)
        assert not isinstance(err.value, StoreTransientError)
        assert str(path) in str(err.value) and "read-only" in str(err.value)
        with pytest.raises(StoreReadOnly):
            store.claim_due("w/1", 1e9, 10, 60)
    finally:
        store.close()


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_bytes(b"this is not sqlite at all, just some words" * 100),
        lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000),
    ],
    ids=["not-a-database", "corrupt-header"],
)
def test_foreign_or_corrupt_file_is_permanent(tmp_path: Path, make: object) -> None:
    path = tmp_path / "h.sqlite3"
    make(path)  # type: ignore[operator]
    with pytest.raises(StorePermanentError) as err:
        open_store(str(path))
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_newer_schema_and_locked_are_classified(tmp_path: Path) -> None:
    assert issubclass(StoreCorrupt, StorePermanentError)
    assert issubclass(StoreLocked, StoreTransientError)
    assert issubclass(StoreUnavailable, StoreTransientError)


def test_reading_never_creates_a_store(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "nested" / "h.sqlite3"
    with pytest.raises(StoreMissing) as err:
        open_store(str(path), create=False)
    assert str(err.value) == f"no history store at {path}"
    assert not (tmp_path / "typo").exists()
    seeded(path)
    reopened = open_store(str(path), create=False)  # an existing one opens as before
    reopened.close()


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreCannotOpen) as err:
        open_store(str(tmp_path))
    assert "is a directory" in str(err.value)
