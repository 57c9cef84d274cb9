"""Watch targets: declared, scheduled, claimed under a lease and completed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from residency.model import AuditResult
from residency.store.db import Db
from residency.store.recording import Recorder, TxCache
from residency.store.serialize import iso
from residency.store.types import BatchOutcome, Completion, RecordOutcome, TargetSpec, WatchTarget

_TARGET_COLUMNS = (
    "id, host, display, vantage, policy, cadence, min_interval, max_interval, jitter, "
    "source, next_due, last_checked, checks"
)


def _target(row: Sequence[Any]) -> WatchTarget:
    return WatchTarget(
        id=int(row[0]),
        host=row[1],
        display=row[2],
        vantage=row[3] or None,
        policy=row[4] or None,
        cadence=None if row[5] is None else float(row[5]),
        min_interval=float(row[6]),
        max_interval=float(row[7]),
        jitter=float(row[8]),
        source=row[9],
        next_due=float(row[10]),
        last_checked=None if row[11] is None else float(row[11]),
        checks=int(row[12]),
    )


class Targets:
    def __init__(self, db: Db, recorder: Recorder) -> None:
        self.db = db
        self.recorder = recorder

    def add_targets(self, specs: Iterable[TargetSpec], now: float, source: str = "watch") -> int:
        """Add or update targets (matched by host, vantage and policy); due at once if new."""
        count = 0
        with self.db.backend.transaction() as tx:
            for spec in specs:
                tx.execute(
                    "INSERT INTO target (host, display, vantage, policy, cadence, min_interval,"
                    " max_interval, jitter, source, added, next_due)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (host, vantage, policy) DO UPDATE SET"
                    " display = excluded.display, cadence = excluded.cadence,"
                    " min_interval = excluded.min_interval, max_interval = excluded.max_interval,"
                    " jitter = excluded.jitter, source = excluded.source",
                    (
                        spec.host,
                        spec.display or spec.host,
                        spec.vantage or "",
                        spec.policy or "",
                        spec.cadence,
                        spec.min_interval,
                        spec.max_interval,
                        spec.jitter,
                        source,
                        iso(now),
                        now,
                    ),
                )
                count += 1
        return count

    def remove_targets(
        self, hosts: Iterable[str], vantage: str | None = None, policy: str | None = None
    ) -> int:
        removed = 0
        with self.db.backend.transaction() as tx:
            for host in hosts:
                sql = "DELETE FROM target WHERE host = ?"
                params: list[Any] = [host]
                if vantage is not None:
                    sql += " AND vantage = ?"
                    params.append(vantage)
                if policy is not None:
                    sql += " AND policy = ?"
                    params.append(policy)
                removed += tx.execute(sql, params).rowcount
        return removed

    def sync_targets(self, source: str, specs: Sequence[TargetSpec], now: float) -> tuple[int, int]:
        """Make the targets from ``source`` (a file) exactly ``specs``: (kept/added, removed)."""
        self.add_targets(specs, now, source=source)
        wanted = {(s.host, s.vantage or "", s.policy or "") for s in specs}
        with self.db.backend.transaction() as tx:
            stale = [
                int(r[0])
                for r in tx.query(
                    "SELECT id, host, vantage, policy FROM target WHERE source = ?", (source,)
                )
                if (r[1], r[2], r[3]) not in wanted
            ]
            tx.executemany("DELETE FROM target WHERE id = ?", [(i,) for i in stale])
        return len(specs), len(stale)

    def list_targets(self) -> list[WatchTarget]:
        with self.db.backend.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_TARGET_COLUMNS} FROM target ORDER BY host, vantage, policy"
            ).rows
        return [_target(r) for r in rows]

    def target_count(self) -> int:
        with self.db.backend.transaction(write=False) as tx:
            return int(tx.execute("SELECT COUNT(*) FROM target").scalar())

    def next_due(self) -> float | None:
        with self.db.backend.transaction(write=False) as tx:
            value = tx.execute("SELECT MIN(next_due) FROM target").scalar()
        return None if value is None else float(value)

    def claim_due(
        self, owner: str, now: float, limit: int, lease_seconds: float
    ) -> list[WatchTarget]:
        """Take up to ``limit`` due targets for ``owner``.

        A claim moves ``next_due`` to the end of the lease, so a worker that dies
        simply lets its targets fall due again; no sweeper is needed, and the claim
        is one index range scan even with millions of targets. PostgreSQL skips rows
        other workers are claiming (``FOR UPDATE SKIP LOCKED``); SQLite serialises
        claims with ``BEGIN IMMEDIATE``.
        """
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        with self.db.backend.transaction() as tx:
            rows = tx.execute(
                "UPDATE target SET lease_owner = ?, next_due = ? WHERE id IN"
                " (SELECT id FROM target WHERE next_due <= ? ORDER BY next_due LIMIT ?"
                f"{lock}) RETURNING {_TARGET_COLUMNS}",
                (owner, now + lease_seconds, now, limit),
            ).rows
        return sorted((_target(r) for r in rows), key=lambda t: (t.next_due, t.id))

    def complete_batch(
        self,
        owner: str,
        completions: Sequence[Completion],
        results: Sequence[AuditResult],
        *,
        kind: str = "monitor",
    ) -> BatchOutcome:
        """Record the batch's runs and move its schedule on, in one transaction.

        Runs already stored (a retried commit) are skipped; targets whose lease was
        taken over are not rescheduled but their observations are still kept.
        """
        cache = TxCache()
        recorded: list[RecordOutcome] = []
        with self.db.backend.transaction() as tx:
            ids = sorted({c.target_id for c in completions})
            by_id = sorted(completions, key=lambda c: c.target_id)
            if tx.arrays and by_id:
                # One statement: reschedule those still ours, and learn which they are.
                ours = {
                    int(r[0])
                    for r in tx.execute(
                        "UPDATE target AS t SET next_due = u.due, lease_owner = NULL,"
                        " last_checked = u.at, last_run = u.run, checks = t.checks + u.inc"
                        " FROM unnest(?::bigint[], ?::float8[], ?::float8[], ?::text[],"
                        " ?::bigint[]) AS u(id, due, at, run, inc)"
                        " WHERE t.id = u.id AND t.lease_owner = ? RETURNING t.id",
                        (
                            [c.target_id for c in by_id],
                            [c.next_due for c in by_id],
                            [c.checked_at for c in by_id],
                            [c.run_id for c in by_id],
                            [1 if c.run_id else 0 for c in by_id],
                            owner,
                        ),
                    ).rows
                }
                mine = [c for c in by_id if c.target_id in ours]
            else:
                ours = {
                    int(r[0])
                    for r in tx.rows_in(
                        "SELECT id FROM target WHERE id {IN} AND lease_owner = ?",
                        ids,
                        after=(owner,),
                    )
                }
                mine = [c for c in by_id if c.target_id in ours]
                tx.executemany(
                    "UPDATE target SET next_due = ?, lease_owner = NULL, last_checked = ?,"
                    " last_run = ?, checks = checks + ? WHERE id = ? AND lease_owner = ?",
                    [
                        (
                            c.next_due,
                            c.checked_at,
                            c.run_id,
                            1 if c.run_id else 0,
                            c.target_id,
                            owner,
                        )
                        for c in mine
                    ],
                )
            lost = sorted(set(ids) - ours)
            done = len(mine)
            for result in results:
                recorded.append(
                    self.recorder.record_in(tx, result, kind, owner.split("/")[0], cache)
                )
        self.recorder.remember(cache)
        return BatchOutcome(tuple(recorded), done, tuple(lost))

    def release(self, owner: str, target_ids: Iterable[int], now: float) -> None:
        """Give claimed targets back, due now (used when a batch cannot be checked)."""
        with self.db.backend.transaction() as tx:
            tx.executemany(
                "UPDATE target SET next_due = ?, lease_owner = NULL"
                " WHERE id = ? AND lease_owner = ?",
                [(now, i, owner) for i in target_ids],
            )
