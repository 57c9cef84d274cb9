"""The small database interface both history backends implement (SQLite, PostgreSQL)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

Row = tuple[Any, ...]
Params = Sequence[Any]


@dataclass(frozen=True)
class Result:
    """Rows a statement returned (empty for plain writes) and how many rows it touched."""

    rows: list[Row]
    rowcount: int

    def one(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


#: Where ``Tx.rows_in`` puts its list of values: ``IN (?, ?, ...)`` or ``= ANY(?)``.
IN_LIST = "{IN}"


class Tx(ABC):
    """One open transaction. SQL is written with ``?`` placeholders for both dialects."""

    #: True when a list is one parameter (PostgreSQL arrays: ``= ANY(?)``, ``unnest(?)``),
    #: so bulk writes can be one set-based statement instead of one statement per row.
    arrays: bool = False

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> Result: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...

    def query(self, sql: str, params: Params = ()) -> Iterator[Row]:
        yield from self.execute(sql, params).rows

    def rows_in(
        self, sql: str, values: Sequence[Any], before: Params = (), after: Params = ()
    ) -> list[Row]:
        """Run ``sql`` whose ``{IN}`` is "column IN ``values``" (``before`` and ``after`` are
        the parameters either side): one statement with an array, or chunks of 500."""
        if not values:
            return []
        if self.arrays:
            return self.execute(
                sql.replace(IN_LIST, "= ANY(?)"), (*before, list(values), *after)
            ).rows
        out: list[Row] = []
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            marks = "IN (" + ", ".join("?" for _ in chunk) + ")"
            out += self.execute(sql.replace(IN_LIST, marks), (*before, *chunk, *after)).rows
        return out

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        """Append rows to ``table`` (no conflict handling, nothing returned); PostgreSQL
        streams them with ``COPY``."""
        if rows:
            marks = ", ".join("?" for _ in columns)
            self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


class Backend(ABC):
    """A connection to one history database."""

    #: "sqlite" or "postgresql": selects the column types in migrations.
    dialect: str
    #: How the database is named in messages (never with a password).
    label: str

    @abstractmethod
    def transaction(self, write: bool = True) -> AbstractContextManager[Tx]:
        """A transaction; ``write`` takes the write lock up front (SQLite ``BEGIN IMMEDIATE``)."""

    @abstractmethod
    def reconnect(self) -> None:
        """Drop the connection and open a new one (after the server came back)."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def size_bytes(self, compact: bool = False) -> int:
        """Bytes the history occupies (for benchmarks); ``compact`` first reclaims the
        space of replaced row versions (VACUUM), so the figure is live data only."""
