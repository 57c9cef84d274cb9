"""SQLite backend: the embedded default, one file in WAL mode."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from residency.store.backend import Backend, Params, Result, Tx
from residency.store.errors import StoreCorrupt, StoreError, StoreLocked, StoreUnavailable


def _translate(err: sqlite3.Error, label: str) -> StoreError:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "locked" in text or "busy" in text:
        return StoreLocked(f"history database {label} is locked by another process ({text})")
    if "not a database" in text or "malformed" in text:
        return StoreCorrupt(f"history database {label} is not a usable SQLite file ({text})")
    if isinstance(err, sqlite3.OperationalError) and (
        "unable to open" in text or "disk" in text or "readonly" in text
    ):
        return StoreUnavailable(f"history database {label} cannot be opened ({text})")
    return StoreError(f"history database {label}: {text}")


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

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.path = path
        self.label = path
        self._timeout = timeout
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            parent = Path(self.path).expanduser().parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreUnavailable(
                    f"history database {self.label}: cannot create folder {parent} ({err})"
                ) from err
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
        except sqlite3.Error as err:
            raise _translate(err, self.label) from err
        return conn

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
