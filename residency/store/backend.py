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


class Tx(ABC):
    """One open transaction. SQL is written with ``?`` placeholders for both dialects."""

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> Result: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...

    def query(self, sql: str, params: Params = ()) -> Iterator[Row]:
        yield from self.execute(sql, params).rows


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
