"""PostgreSQL backend (psycopg 3): one database shared by workers on several machines."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict

from residency.store.backend import Backend, Params, Result, Tx
from residency.store.errors import (
    StoreCannotOpen,
    StoreError,
    StoreLocked,
    StorePermanentError,
    StoreReadOnly,
    StoreUnavailable,
    StoreUrlInvalid,
)

#: SQLSTATEs a retry cannot fix: bad credentials (class 28), no such database.
_PERMANENT_CONNECT = ("28", "3D000")


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


@lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """Our SQL uses ``?`` placeholders; psycopg wants ``%s`` (and literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


@lru_cache(maxsize=128)
def to_binary_params(query: str) -> str:
    """Every ``%s`` placeholder of a pyformat query as ``%b`` (parameters sent in binary)."""
    return re.sub(r"(?<!%)%s", "%b", query)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _translate(err: psycopg.Error, label: str) -> StoreError:
    if isinstance(err, psycopg.errors.TransactionRollback | psycopg.errors.LockNotAvailable):
        return StoreLocked(f"history database {label}: conflict with another worker, retry")
    if isinstance(err, psycopg.errors.ReadOnlySqlTransaction):
        return StoreReadOnly(f"history database {label} is read-only: {_first_line(err)}")
    if isinstance(err, psycopg.OperationalError | psycopg.InterfaceError):
        return StoreUnavailable(f"history database {label} unreachable: {_first_line(err)}")
    # Anything else (a missing table, a constraint) fails the same way on every retry.
    return StorePermanentError(f"history database {label}: {_first_line(err)}")


class PgTx(Tx):
    arrays = True

    def __init__(self, cur: psycopg.Cursor[Any], label: str) -> None:
        self._cur = cur
        self._label = label

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        if not rows:
            return
        try:
            with self._cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as err:
            raise _translate(err, self._label) from err

    def execute(self, sql: str, params: Params = ()) -> Result:
        values = tuple(params)
        query = to_pyformat(sql)
        if any(isinstance(v, list) for v in values):
            # Arrays go in binary: their text form escapes each quote of each JSON body in Python.
            query = to_binary_params(query)
        try:
            self._cur.execute(query, values)
            rows = self._cur.fetchall() if self._cur.description is not None else []
            return Result(rows, self._cur.rowcount)
        except psycopg.Error as err:
            raise _translate(err, self._label) from err

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        try:
            self._cur.executemany(to_pyformat(sql), [tuple(r) for r in rows])
        except psycopg.Error as err:
            raise _translate(err, self._label) from err


class PostgresBackend(Backend):
    dialect = "postgresql"

    def __init__(self, url: str, connect_timeout: float = 10.0) -> None:
        self.url = url
        self.label = redact(url)
        try:
            conninfo_to_dict(url)
        except psycopg.ProgrammingError as err:
            raise StoreUrlInvalid(
                f"history database URL {self.label} is not valid: {_first_line(err)}"
            ) from err
        self._timeout = connect_timeout
        self._conn = self._open()

    def _open(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, int(self._timeout))
            )
        except psycopg.ProgrammingError as err:
            raise StoreUrlInvalid(
                f"history database URL {self.label} is not valid: {_first_line(err)}"
            ) from err
        except psycopg.Error as err:
            text = _first_line(err)
            if "for connection option" in text or "invalid connection option" in text:
                raise StoreUrlInvalid(
                    f"history database URL {self.label} is not valid: {text}"
                ) from err
            if (err.sqlstate or "").startswith(_PERMANENT_CONNECT):
                raise StoreCannotOpen(
                    f"cannot connect to history database {self.label}: {text}"
                ) from err
            raise StoreUnavailable(
                f"cannot connect to history database {self.label}: {text}"
            ) from err

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        if self._conn.closed or self._conn.broken:
            self.reconnect()
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                yield PgTx(cur, self.label)
        except psycopg.Error as err:
            raise _translate(err, self.label) from err

    def reconnect(self) -> None:
        self.close()
        self._conn = self._open()

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):  # a broken handle: nothing left to release
            self._conn.close()

    def size_bytes(self, compact: bool = False) -> int:
        """Tables and indexes of the schema in use (other schemas are not ours)."""
        tables = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        try:
            if compact:
                names = [r[0] for r in self._conn.execute(tables).fetchall()]
                for name in names:  # VACUUM cannot run inside a transaction block
                    self._conn.execute(f'VACUUM FULL "{name}"')
            with self.transaction(write=False) as tx:
                total = tx.execute(
                    f"SELECT COALESCE(SUM(pg_total_relation_size(quote_ident(tablename))), 0)"
                    f" FROM ({tables}) t"
                ).scalar()
        except psycopg.Error as err:
            raise _translate(err, self.label) from err
        return int(total)
