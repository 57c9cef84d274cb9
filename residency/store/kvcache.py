"""The generic key-value cache (``kv_cache``): JSON values by namespace and key, with expiry."""

from __future__ import annotations

import time

from residency.store.db import Db


class KvCache:
    def __init__(self, db: Db) -> None:
        self.db = db

    def cache_get(
        self, namespace: str, key: str, now: float | None = None
    ) -> tuple[str, float | None] | None:
        """A cached JSON value and its expiry (epoch seconds, None: never), or None when
        absent or expired at ``now`` (default: the current time)."""
        if now is None:
            now = time.time()
        with self.db.backend.transaction(write=False) as tx:
            row = tx.execute(
                "SELECT value, expires FROM kv_cache WHERE namespace = ? AND key = ?",
                (namespace, key),
            ).one()
        if row is None:
            return None
        expires = None if row[1] is None else float(row[1])
        if expires is not None and expires <= now:
            return None
        return str(row[0]), expires

    def cache_put(self, namespace: str, key: str, value_json: str, expires: float | None) -> None:
        with self.db.backend.transaction() as tx:
            tx.execute(
                "INSERT INTO kv_cache (namespace, key, value, expires) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
                " expires = excluded.expires",
                (namespace, key, value_json, expires),
            )

    def cache_purge(self, now: float) -> int:
        with self.db.backend.transaction() as tx:
            return tx.execute(
                "DELETE FROM kv_cache WHERE expires IS NOT NULL AND expires <= ?", (now,)
            ).rowcount

    def cache_items(self, namespace: str, now: float) -> list[tuple[str, str, float | None]]:
        """Every (key, JSON value, expiry) of ``namespace`` not expired at ``now``, soonest
        to expire first (rows that never expire last)."""
        with self.db.backend.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT key, value, expires FROM kv_cache WHERE namespace = ?"
                " AND (expires IS NULL OR expires > ?)"
                " ORDER BY CASE WHEN expires IS NULL THEN 1 ELSE 0 END, expires, key",
                (namespace, now),
            ).rows
        return [(str(k), str(v), None if e is None else float(e)) for k, v, e in rows]
