"""SQLite backend: the embedded default, one file in WAL mode."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from residency.store.backend import Backend, Params, Result, Tx
from residency.store.errors import (
    StoreCannotOpen,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreMissing,
    StorePermanentError,
    StoreReadOnly,
    StoreUnavailable,
)

#: SQLite primary result codes that may clear by themselves (another process holds the
#: lock; the disk filled up and may be freed). Everything else fails the same on retry.
_TRANSIENT = {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_INTERRUPT"}


def _primary_code(err: sqlite3.Error) -> str:
    """``SQLITE_READONLY`` for ``SQLITE_READONLY_DIRECTORY`` and so on ("" if unknown)."""
    name = getattr(err, "sqlite_errorname", "") or ""
    parts = name.split("_")
    return "_".join(parts[:2]) if len(parts) >= 2 else name


def _translate(err: sqlite3.Error, label: str) -> StoreError:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    code = _primary_code(err)
    if code in {"SQLITE_BUSY", "SQLITE_LOCKED"} or "locked" in text or "busy" in text:
        return StoreLocked(f"history database {label} is locked by another process ({text})")
    if (
        code in {"SQLITE_NOTADB", "SQLITE_CORRUPT"}
        or "not a database" in text
        or "malformed" in text
    ):
        return StoreCorrupt(f"history database {label} is not a usable SQLite file ({text})")
    if code == "SQLITE_READONLY" or "readonly" in text:
        return StoreReadOnly(f"history database {label} is read-only ({text})")
    if code == "SQLITE_CANTOPEN" or "unable to open" in text:
        return StoreCannotOpen(f"history database {label} cannot be opened ({text})")
    if code in _TRANSIENT:
        return StoreUnavailable(f"history database {label} is unavailable for now ({text})")
    if code == "SQLITE_IOERR" or "disk" in text:
        return StoreCannotOpen(f"history database {label} cannot be read or written ({text})")
    # Anything else (a constraint, a missing table) fails the same way on every retry.
    return StorePermanentError(f"history database {label}: {text}")


class SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection, label: str) -> None:
        self._conn = conn
        self._label = label

    def execute(self, sql: str, params: Params = ()) -> Result:
        try:
            cur = self._conn.execute(sql, tuple(params))
            rows = cur.fetchall()
            return Result(rows, cur.rowcount)
        except sqlite3.Error as err:
            raise _translate(err, self._label) from err

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        try:
            self._conn.executemany(sql, [tuple(r) for r in rows])
        except sqlite3.Error as err:
            raise _translate(err, self._label) from err


class SqliteBackend(Backend):
    dialect = "sqlite"

    def __init__(self, path: str, timeout: float = 10.0, *, create: bool = True) -> None:
        # ``path?mode=ro`` (SQLite URI parameters) opens the file read-only.
        self.path, _, self.query = path.partition("?")
        self.label = self.path
        self._timeout = timeout
        self._create = create
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            file = Path(self.path).expanduser()
            if not self._create and not file.exists():
                # A reading command with a mistyped path must not leave folders and an
                # empty database behind.
                raise StoreMissing(f"no history store at {self.label}")
            if file.is_dir():
                raise StoreCannotOpen(f"history database {self.label} is a directory")
            parent = file.parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreCannotOpen(
                    f"history database {self.label}: cannot create folder {parent} "
                    f"({err.strerror or err})"
                ) from err
        target = self.path
        uri = bool(self.query)
        if uri:
            target = f"{Path(self.path).expanduser().absolute().as_uri()}?{self.query}"
        try:
            conn = sqlite3.connect(
                target,
                timeout=self._timeout,
                isolation_level=None,
                check_same_thread=False,
                uri=uri,
            )
            self._set_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
        except sqlite3.Error as err:
            raise _translate(err, self.label) from err
        return conn

    def _set_wal(self, conn: sqlite3.Connection) -> None:
        """WAL mode, retried while another process holds the file (two monitors opening a
        new file at once): switching the journal can be refused at once, without
        waiting in the busy handler, when both would otherwise deadlock."""
        deadline = time.monotonic() + self._timeout
        delay = 0.01
        while True:
            try:
                self._journal_wal(conn)
                return
            except sqlite3.OperationalError as err:
                # A read-only file can still be read; writing will say it is read-only.
                if _primary_code(err) == "SQLITE_READONLY" or "readonly" in str(err):
                    return
                locked = isinstance(_translate(err, self.label), StoreLocked)
                if not locked or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def _journal_wal(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=WAL")

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        try:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as err:
            raise _translate(err, self.label) from err
        try:
            yield SqliteTx(self._conn, self.label)
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as err:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise _translate(err, self.label) from err

    def reconnect(self) -> None:
        self.close()
        self._conn = self._open()

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # a broken handle: nothing left to release
            self._conn.close()

    def size_bytes(self, compact: bool = False) -> int:
        if compact:
            self._conn.execute("VACUUM")
        if self.path == ":memory:":
            with self.transaction(write=False) as tx:
                pages = tx.execute("PRAGMA page_count").scalar()
                size = tx.execute("PRAGMA page_size").scalar()
            return int(pages) * int(size)
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        base = Path(self.path)
        return sum(
            p.stat().st_size for p in (base, base.with_name(base.name + "-wal")) if p.exists()
        )
