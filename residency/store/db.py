"""The connection the store's parts share: one backend and its dialect."""

from __future__ import annotations

from residency.store.backend import Backend


class Db:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def label(self) -> str:
        return self.backend.label

    @property
    def dialect(self) -> str:
        return self.backend.dialect

    def check_writable(self) -> None:
        """Raise ``StoreReadOnly`` (or another store error) now if this store cannot be
        written, so a worker fails before loading data and checking anything."""
        with self.backend.transaction() as tx:
            # Matches no row, but SQLite and PostgreSQL both refuse it on a read-only store.
            tx.execute("UPDATE target SET checks = checks WHERE 1 = 0")
            if self.backend.dialect == "postgresql":
                tx.execute("SELECT txid_current()")  # refused in a read-only transaction
