"""Alert bookkeeping: which drift events each channel has been sent, claimed or owes."""

from __future__ import annotations

from collections.abc import Sequence

from residency.drift import DriftEvent
from residency.store.db import Db
from residency.store.history import event_rows


class Alerts:
    def __init__(self, db: Db) -> None:
        self.db = db

    def pending_alerts(self, channel: str, limit: int = 500) -> list[DriftEvent]:
        """Events not yet delivered to (nor being sent on) ``channel``, oldest first."""
        with self.db.backend.transaction(write=False) as tx:
            upto = tx.execute(
                "SELECT upto FROM alert_channel WHERE channel = ?", (channel,)
            ).scalar()
            return event_rows(
                tx,
                "d.id > ? AND NOT EXISTS (SELECT 1 FROM alert_sent a"
                " WHERE a.event_id = d.id AND a.channel = ?)",
                (int(upto or 0), channel),
                limit,
            )

    def claim_alerts(
        self, channel: str, now: float, limit: int = 50, stale_after: float = 600.0
    ) -> list[DriftEvent]:
        """Take up to ``limit`` undelivered events for ``channel`` to send.

        Each taken event gets an ``alert_sent`` row in state "sending", so two workers
        never send the same event; ``finish_alerts`` confirms or gives them back. Rows
        left "sending" by a worker that died are given back after ``stale_after``.
        ``alert_channel.upto`` is the id up to which every event is taken, so finding
        new events stays cheap however long the history grows.
        """
        with self.db.backend.transaction() as tx:
            tx.execute(
                "INSERT INTO alert_channel (channel, upto) VALUES (?, 0)"
                " ON CONFLICT (channel) DO NOTHING",
                (channel,),
            )
            lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
            upto = int(
                tx.execute(
                    f"SELECT upto FROM alert_channel WHERE channel = ?{lock}", (channel,)
                ).scalar()
            )
            stale = [
                int(r[0])
                for r in tx.query(
                    "SELECT event_id FROM alert_sent WHERE channel = ? AND state = 'sending'"
                    " AND sent_ts < ?",
                    (channel, now - stale_after),
                )
            ]
            if stale:
                tx.executemany(
                    "DELETE FROM alert_sent WHERE event_id = ? AND channel = ?",
                    [(i, channel) for i in stale],
                )
                upto = min(upto, min(stale) - 1)
            events = event_rows(
                tx,
                "d.id > ? AND NOT EXISTS (SELECT 1 FROM alert_sent a"
                " WHERE a.event_id = d.id AND a.channel = ?)",
                (upto, channel),
                limit,
            )
            tx.executemany(
                "INSERT INTO alert_sent (event_id, channel, sent_ts, state)"
                " VALUES (?, ?, ?, 'sending')",
                [(e.id, channel, now) for e in events],
            )
            if len(events) < limit:
                # Everything after `upto` is now taken: move the mark to the newest event.
                newest = tx.execute("SELECT MAX(id) FROM drift_event").scalar()
                upto = max(upto, int(newest or 0))
            elif events:
                upto = max(upto, events[-1].id)
            tx.execute("UPDATE alert_channel SET upto = ? WHERE channel = ?", (upto, channel))
        return events

    def finish_alerts(
        self, channel: str, event_ids: Sequence[int], now: float, delivered: bool
    ) -> None:
        """Confirm claimed events as sent, or give them back for a later retry."""
        if not event_ids:
            return
        with self.db.backend.transaction() as tx:
            if delivered:
                tx.executemany(
                    "UPDATE alert_sent SET state = 'sent', sent_ts = ?"
                    " WHERE event_id = ? AND channel = ?",
                    [(now, i, channel) for i in event_ids],
                )
                return
            tx.executemany(
                "DELETE FROM alert_sent WHERE event_id = ? AND channel = ? AND state = 'sending'",
                [(i, channel) for i in event_ids],
            )
            tx.execute(
                "UPDATE alert_channel SET upto = ? WHERE channel = ? AND upto >= ?",
                (min(event_ids) - 1, channel, min(event_ids)),
            )

    def open_alert_channel(self, channel: str, backlog: bool) -> bool:
        """Register ``channel`` if new: it starts after the newest event unless ``backlog``.
        Returns True when the channel was new."""
        with self.db.backend.transaction() as tx:
            newest = 0
            if not backlog:
                newest = int(tx.execute("SELECT COALESCE(MAX(id), 0) FROM drift_event").scalar())
            return (
                tx.execute(
                    "INSERT INTO alert_channel (channel, upto) VALUES (?, ?)"
                    " ON CONFLICT (channel) DO NOTHING",
                    (channel, newest),
                ).rowcount
                == 1
            )

    def skip_alerts_before(self, channel: str) -> None:
        """Treat every event so far as delivered on ``channel`` (start it from now on)."""
        with self.db.backend.transaction() as tx:
            newest = int(tx.execute("SELECT COALESCE(MAX(id), 0) FROM drift_event").scalar())
            tx.execute(
                "INSERT INTO alert_channel (channel, upto) VALUES (?, ?)"
                " ON CONFLICT (channel) DO UPDATE SET upto = excluded.upto",
                (channel, newest),
            )
