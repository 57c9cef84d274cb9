"""Alert bookkeeping: an outbox row per (channel, drift event) until the channel has it.

Delivery is tracked per event, never by a high-water mark. With several PostgreSQL
workers, event ids are handed out when rows are inserted but become visible when their
transaction commits, in another order: a mark moved to "the newest id seen" overtakes
ids still uncommitted, and those events were never sent (issue 18, item 13).

So the transaction that records drift events also writes one ``alert_outbox`` row per
open channel for each of them. A sender claims rows (``state = 'sending'``, a lease with
an owner), posts them, and deletes the rows it delivered; a failure gives them back with
a time before which they are not tried again (backoff). A claim whose lease ran out (the
sender was killed) is taken again by the next claim, once. PostgreSQL claims with
``FOR UPDATE SKIP LOCKED``, so workers never wait for each other nor take the same row;
SQLite's write transaction excludes other writers anyway.

Opening a channel and recording events exclude each other on PostgreSQL (an advisory
lock, shared by recorders), so an event committed while a channel opens is queued for it
or predates it, never neither.
"""

from __future__ import annotations

from collections.abc import Sequence

from residency.drift import DriftEvent
from residency.store.backend import Tx
from residency.store.db import Db
from residency.store.history import event_rows

#: Advisory lock: recorders take it shared, a channel being opened takes it alone.
_CHANNEL_LOCK = 7274617

#: How long a claimed event is reserved for its sender before another may take it.
DEFAULT_LEASE = 60.0


def enqueue_alerts(tx: Tx, dialect: str, run_seq: int) -> None:
    """Queue the drift events of run ``run_seq`` for every open channel (inside the
    transaction that recorded them)."""
    if dialect == "postgresql":
        tx.execute(f"SELECT pg_advisory_xact_lock_shared({_CHANNEL_LOCK})")
    tx.execute(
        "INSERT INTO alert_outbox (channel, event_id, state, due_ts, attempts)"
        " SELECT c.channel, d.id, 'pending', 0, 0 FROM alert_channel c"
        " CROSS JOIN drift_event d WHERE d.run_seq = ?"
        " ON CONFLICT (channel, event_id) DO NOTHING",
        (run_seq,),
    )


class Alerts:
    def __init__(self, db: Db) -> None:
        self.db = db

    def _open(self, tx: Tx, channel: str, backlog: bool) -> bool:
        """Register ``channel`` if new; with ``backlog`` it owes every event so far."""
        if self.db.dialect == "postgresql":
            tx.execute(f"SELECT pg_advisory_xact_lock({_CHANNEL_LOCK})")
        newest = int(tx.execute("SELECT COALESCE(MAX(id), 0) FROM drift_event").scalar())
        created = (
            tx.execute(
                "INSERT INTO alert_channel (channel, upto) VALUES (?, ?)"
                " ON CONFLICT (channel) DO NOTHING",
                (channel, 0 if backlog else newest),
            ).rowcount
            == 1
        )
        if created and backlog:
            tx.execute(
                "INSERT INTO alert_outbox (channel, event_id, state, due_ts, attempts)"
                " SELECT ?, d.id, 'pending', 0, 0 FROM drift_event d"
                " WHERE NOT EXISTS (SELECT 1 FROM alert_sent a"
                " WHERE a.event_id = d.id AND a.channel = ?)"
                " ON CONFLICT (channel, event_id) DO NOTHING",
                (channel, channel),
            )
        return created

    def _known(self, tx: Tx, channel: str) -> bool:
        return bool(tx.execute("SELECT 1 FROM alert_channel WHERE channel = ?", (channel,)).rows)

    def pending_alerts(self, channel: str, limit: int = 500) -> list[DriftEvent]:
        """Events ``channel`` still owes (not delivered, not being sent), oldest first.
        A channel never opened owes everything (it would open with the backlog)."""
        with self.db.backend.transaction(write=False) as tx:
            if not self._known(tx, channel):
                return event_rows(
                    tx,
                    "NOT EXISTS (SELECT 1 FROM alert_sent a WHERE a.event_id = d.id"
                    " AND a.channel = ?)",
                    (channel,),
                    limit,
                )
            return event_rows(
                tx,
                "d.id IN (SELECT o.event_id FROM alert_outbox o WHERE o.channel = ?"
                " AND o.state = 'pending')",
                (channel,),
                limit,
            )

    def claim_alerts(
        self,
        channel: str,
        now: float,
        limit: int = 50,
        lease: float = DEFAULT_LEASE,
        owner: str = "",
    ) -> list[DriftEvent]:
        """Take up to ``limit`` events ``channel`` owes and that are due, for ``lease``
        seconds: until ``finish_alerts`` or the lease's end nobody else takes them.
        A channel never opened is opened with its backlog."""
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        with self.db.backend.transaction() as tx:
            if not self._known(tx, channel):
                self._open(tx, channel, backlog=True)
            ids = [
                int(r[0])
                for r in tx.query(
                    "SELECT event_id FROM alert_outbox WHERE channel = ?"
                    " AND ((state = 'pending' AND due_ts <= ?)"
                    " OR (state = 'sending' AND lease_until <= ?))"
                    f" ORDER BY event_id LIMIT ?{skip_locked}",
                    (channel, now, now, limit),
                )
            ]
            if not ids:
                return []
            tx.rows_in(
                "UPDATE alert_outbox SET state = 'sending', owner = ?, lease_until = ?"
                " WHERE channel = ? AND event_id {IN}",
                ids,
                before=(owner, now + lease, channel),
            )
            return event_rows(tx, f"d.id IN ({', '.join('?' for _ in ids)})", ids, limit)

    def finish_alerts(
        self,
        channel: str,
        event_ids: Sequence[int],
        now: float,
        delivered: bool,
        *,
        owner: str = "",
        retry_at: float | None = None,
    ) -> None:
        """Confirm claimed events as delivered (their outbox rows go, whoever holds them),
        or give back the ones ``owner`` still holds, due again at ``retry_at``."""
        if not event_ids:
            return
        ids = sorted(set(event_ids))
        with self.db.backend.transaction() as tx:
            if delivered:
                tx.rows_in(
                    "DELETE FROM alert_outbox WHERE channel = ? AND event_id {IN}",
                    ids,
                    before=(channel,),
                )
                tx.executemany(
                    "INSERT INTO alert_sent (event_id, channel, sent_ts, state)"
                    " VALUES (?, ?, ?, 'sent') ON CONFLICT (event_id, channel) DO NOTHING",
                    [(i, channel, now) for i in ids],
                )
                return
            tx.rows_in(
                "UPDATE alert_outbox SET state = 'pending', owner = NULL, lease_until = NULL,"
                " due_ts = ?, attempts = attempts + 1"
                " WHERE channel = ? AND owner = ? AND state = 'sending' AND event_id {IN}",
                ids,
                before=(now if retry_at is None else retry_at, channel, owner),
            )

    def open_alert_channel(self, channel: str, backlog: bool) -> bool:
        """Register ``channel`` if new: it owes the events from now on, or every event
        recorded so far too with ``backlog``. Returns True when the channel was new."""
        with self.db.backend.transaction() as tx:
            return self._open(tx, channel, backlog)

    def skip_alerts_before(self, channel: str) -> None:
        """Treat every event so far as delivered on ``channel`` (start it from now on)."""
        with self.db.backend.transaction() as tx:
            self._open(tx, channel, backlog=False)
            tx.execute("DELETE FROM alert_outbox WHERE channel = ?", (channel,))

    def outbox_size(self, channel: str | None = None) -> int:
        """Events owed (pending or being sent), on one channel or all."""
        with self.db.backend.transaction(write=False) as tx:
            if channel is None:
                return int(tx.execute("SELECT COUNT(*) FROM alert_outbox").scalar())
            return int(
                tx.execute(
                    "SELECT COUNT(*) FROM alert_outbox WHERE channel = ?", (channel,)
                ).scalar()
            )
