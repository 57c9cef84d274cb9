"""Reading history: one host's states over time, drift events, places seen."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from residency.drift import DriftEvent, DriftKind
from residency.store.backend import Tx
from residency.store.db import Db
from residency.store.serialize import iso
from residency.store.types import LocationSeen, StateSpan, Timeline


def event_rows(
    tx: Tx, where: str, params: Sequence[Any], limit: int = 1_000_000
) -> list[DriftEvent]:
    rows = tx.execute(
        "SELECT d.id, e.host, e.key, r.id, d.at_ts, d.kind, d.ip, d.before, d.after, d.detail"
        " FROM drift_event d JOIN endpoint e ON e.id = d.endpoint_id"
        f" JOIN run r ON r.seq = d.run_seq WHERE {where} ORDER BY d.id LIMIT ?",
        (*params, limit),
    ).rows
    return [
        DriftEvent(
            id=int(r[0]),
            host=r[1],
            endpoint=r[2],
            run_id=r[3],
            at=iso(float(r[4])),
            kind=DriftKind(r[5]),
            ip=r[6],
            before=r[7],
            after=r[8],
            detail=r[9],
        )
        for r in rows
    ]


def locations(
    tx: Tx,
    endpoint_ids: Sequence[int],
    since: float | None,
    grouped: bool = True,
    until: float | None = None,
) -> list[LocationSeen]:
    """Places seen: merged per (address, place) when ``grouped``, else every interval.

    With a period, only intervals overlapping [since, until], clipped to it: an interval
    that began after ``until`` is not part of the period.
    """
    if not endpoint_ids:
        return []
    marks = ", ".join("?" for _ in endpoint_ids)
    floor = since if since is not None else float("-inf")
    ceiling = until if until is not None else float("inf")
    if grouped:
        sql = (
            "SELECT ip, country, provider, region, asn, MIN(first_ts), MAX(last_ts),"
            f" MAX(current) FROM observation WHERE endpoint_id IN ({marks}) AND last_ts >= ?"
            " AND first_ts <= ?"
            " GROUP BY ip, country, provider, region, asn ORDER BY MIN(first_ts), ip"
        )
    else:
        sql = (
            "SELECT ip, country, provider, region, asn, first_ts, last_ts, current"
            f" FROM observation WHERE endpoint_id IN ({marks}) AND last_ts >= ?"
            " AND first_ts <= ? ORDER BY first_ts, ip, id"
        )
    rows = tx.execute(sql, (*endpoint_ids, floor, ceiling)).rows
    return [
        LocationSeen(
            ip=r[0],
            country=r[1],
            provider=r[2],
            region=r[3],
            asn=None if r[4] is None else int(r[4]),
            first_seen=iso(max(float(r[5]), floor)),
            last_seen=iso(min(float(r[6]), ceiling)),
            current=bool(r[7]),
        )
        for r in rows
    ]


class History:
    def __init__(self, db: Db) -> None:
        self.db = db

    def history(self, host: str) -> Timeline:
        """Everything recorded about one host: its states over time, events, places."""
        with self.db.backend.transaction(write=False) as tx:
            endpoints = tx.execute(
                "SELECT id, key FROM endpoint WHERE host = ? ORDER BY key", (host,)
            ).rows
            ids = [int(r[0]) for r in endpoints]
            spans: list[StateSpan] = []
            events: list[DriftEvent] = []
            if ids:
                marks = ", ".join("?" for _ in ids)
                for r in tx.query(
                    "SELECT s.first_ts, s.last_ts, ra.id, rb.id, s.checks, s.body"
                    " FROM endpoint_state s JOIN run ra ON ra.seq = s.first_seq"
                    " JOIN run rb ON rb.seq = s.last_seq"
                    f" WHERE s.endpoint_id IN ({marks}) AND s.late = 0 ORDER BY s.first_ts, s.id",
                    ids,
                ):
                    spans.append(
                        StateSpan(
                            first_seen=iso(float(r[0])),
                            last_seen=iso(float(r[1])),
                            first_run=r[2],
                            last_run=r[3],
                            checks=int(r[4]),
                            body=json.loads(r[5]),
                        )
                    )
                events = event_rows(tx, f"d.endpoint_id IN ({marks})", ids)
            places = locations(tx, ids, None, grouped=False)
        return Timeline(
            host=host,
            endpoints=tuple(r[1] for r in endpoints),
            spans=tuple(spans),
            events=tuple(events),
            locations=tuple(places),
        )

    def events(self, since_id: int = 0, limit: int = 1000) -> list[DriftEvent]:
        with self.db.backend.transaction(write=False) as tx:
            return event_rows(tx, "d.id > ?", (since_id,), limit)
