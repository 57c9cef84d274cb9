"""Recording runs: deduplicated endpoint states, observations, facts and drift events.

Storage model (why it stays small): an endpoint's *state* (its resolutions without TTLs,
its addresses with their places, its verdict) is fingerprinted. While the fingerprint
does not change, a check only moves ``last_seq``/``last_ts`` of the current
``endpoint_state`` and ``observation`` rows in place; a new row is written only when
something changed. ``observation`` keeps one row per (endpoint, address, place) interval
with first/last seen, and points to content-addressed ``facts`` (evidence JSON), which
many endpoints and checks share.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from residency.drift import Change, compare, hold_control, run_evidence
from residency.model import AuditResult, EndpointResult
from residency.store.alerts import enqueue_alerts
from residency.store.backend import Row, Tx
from residency.store.db import Db
from residency.store.errors import StoreError
from residency.store.serialize import (
    canonical,
    canonical_plain,
    data_fingerprint,
    digest,
    endpoint_state,
    location_summary,
    parse_time,
    to_jsonable,
)
from residency.store.types import RecordOutcome

_OBSERVATION_COLUMNS = (
    "endpoint_id",
    "ip",
    "location_fp",
    "country",
    "provider",
    "region",
    "asn",
    "facts_id",
    "data_fp",
    "first_seq",
    "last_seq",
    "first_ts",
    "last_ts",
    "current",
)


def endpoint_key(host: str, vantages: Sequence[str]) -> str:
    """One history line per host and vantage set, so vantages never flap against each other."""
    named = sorted(v for v in vantages if v)
    return host if not named else f"{host} @{','.join(named)}"


@dataclass(frozen=True)
class _NewEndpoint:
    key: str
    result: EndpointResult
    body_text: str
    state_fp: str


@dataclass(frozen=True)
class _Changed:
    key: str
    result: EndpointResult
    body: dict[str, Any]
    body_text: str
    state_fp: str
    row: Row  # (id, state_id, state_fp, data_fp, last_ts), locked


@dataclass
class TxCache:
    """Facts ids learnt inside a transaction: kept only if it commits."""

    facts: dict[str, int] = field(default_factory=dict)


class Recorder:
    """Writes runs into the history (see module docstring)."""

    def __init__(self, db: Db) -> None:
        self.db = db
        #: facts sha -> row id, filled only from committed transactions.
        self._facts_ids: dict[str, int] = {}

    def record_run(self, result: AuditResult, *, kind: str = "audit") -> str:
        """Store one audit run with its resolutions, facts and verdicts; returns its id.

        Recording the same run id twice stores it once.
        """
        return self.record(result, kind=kind).run_id

    def record(
        self, result: AuditResult, *, kind: str = "audit", worker: str | None = None
    ) -> RecordOutcome:
        cache = TxCache()
        with self.db.backend.transaction() as tx:
            outcome = self.record_in(tx, result, kind, worker, cache)
        self.remember(cache)
        return outcome

    def remember(self, cache: TxCache) -> None:
        """Keep the facts ids of a transaction that committed (call only after commit)."""
        if len(self._facts_ids) > 200_000:
            self._facts_ids.clear()
        self._facts_ids.update(cache.facts)

    def _facts_id(self, tx: Tx, body: str, cache: TxCache) -> int:
        sha = digest(body)
        known = cache.facts.get(sha) or self._facts_ids.get(sha)
        if known is not None:
            return known
        row = tx.execute(
            "INSERT INTO facts (sha, body) VALUES (?, ?) ON CONFLICT (sha) DO NOTHING RETURNING id",
            (sha, body),
        ).one()
        if row is None:
            row = tx.execute("SELECT id FROM facts WHERE sha = ?", (sha,)).one()
        if row is None:  # pragma: no cover - the row exists by construction
            raise StoreError(f"history database {self.db.label}: facts row vanished")
        cache.facts[sha] = int(row[0])
        return int(row[0])

    def _facts_id_list(self, tx: Tx, bodies: Sequence[str], cache: TxCache) -> list[int]:
        """Facts ids of many bodies: unknown ones inserted in one statement (or one batch)."""
        shas = [digest(body) for body in bodies]
        missing = {
            sha: body
            for sha, body in zip(shas, bodies, strict=True)
            if sha not in cache.facts and sha not in self._facts_ids
        }
        if missing:
            # Sorted, so concurrent workers inserting the same facts wait, never deadlock.
            order = sorted(missing)
            if tx.arrays:
                tx.execute(
                    "INSERT INTO facts (sha, body) SELECT * FROM unnest(?::text[], ?::text[])"
                    " ON CONFLICT (sha) DO NOTHING",
                    (order, [missing[sha] for sha in order]),
                )
            else:
                tx.executemany(
                    "INSERT INTO facts (sha, body) VALUES (?, ?) ON CONFLICT (sha) DO NOTHING",
                    [(sha, missing[sha]) for sha in order],
                )
            for sha, row_id in tx.rows_in("SELECT sha, id FROM facts WHERE sha {IN}", order):
                cache.facts[sha] = int(row_id)
        out = []
        for sha in shas:
            known = cache.facts.get(sha) or self._facts_ids.get(sha)
            if known is None:  # pragma: no cover - the row exists by construction
                raise StoreError(f"history database {self.db.label}: facts row vanished")
            out.append(known)
        return out

    def record_in(
        self, tx: Tx, result: AuditResult, kind: str, worker: str | None, cache: TxCache
    ) -> RecordOutcome:
        """Record one run inside the caller's transaction ``tx`` (``Targets.complete_batch``
        records a batch and moves its schedule in one); ids learnt go to ``cache``."""
        started_ts = parse_time(result.started)
        if started_ts is None:
            raise StoreError(f"run {result.run_id}: start time {result.started!r} is not ISO-8601")
        data_fp = data_fingerprint(result.data_versions)
        inputs: Any
        if kind == "audit":
            inputs = [[e.endpoint.host, e.endpoint.origin] for e in result.endpoints]
        else:
            inputs = {"targets": len(result.endpoints)}
        row = tx.execute(
            "INSERT INTO run (id, kind, started, finished, started_ts, recorded_ts, tool_version,"
            " inputs, resolvers, vantages, data_versions, data_fp, policy, verdict, problems,"
            " notes, endpoint_count, worker)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING RETURNING seq",
            (
                result.run_id,
                kind,
                result.started,
                result.finished,
                started_ts,
                parse_time(result.finished) or started_ts,
                result.tool_version,
                canonical(inputs),
                canonical(list(result.resolvers)),
                canonical([v or "" for v in result.vantages]),
                canonical([to_jsonable(v) for v in result.data_versions]),
                data_fp,
                canonical(to_jsonable(result.policy)) if result.policy else None,
                None if result.verdict is None else int(result.verdict),
                canonical([[p.entry, p.origin, p.problem] for p in result.problems]),
                canonical(list(result.notes)),
                len(result.endpoints),
                worker,
            ),
        ).one()
        if row is None:
            seq = tx.execute("SELECT seq FROM run WHERE id = ?", (result.run_id,)).scalar()
            return RecordOutcome(result.run_id, int(seq), inserted=False)
        seq = int(row[0])
        policy_name = f"{result.policy.name} {result.policy.version}" if result.policy else None
        key_vantages = [v for v in result.vantages if v]
        ordered: list[tuple[str, EndpointResult]] = []
        seen: set[str] = set()
        ran = run_evidence(v.dataset for v in result.data_versions)
        for er in sorted(result.endpoints, key=lambda e: e.endpoint.host):
            key = endpoint_key(er.endpoint.host, key_vantages)
            if key not in seen:
                seen.add(key)
                ordered.append((key, er))
        known = self._endpoint_rows(tx, [key for key, _ in ordered])
        changed = 0
        all_changes: list[Change] = []
        unchanged: list[tuple[int, int]] = []  # (endpoint id, state id)
        first_sight: list[_NewEndpoint] = []
        moved: list[_Changed] = []  # a new state of a known endpoint (the drift case)
        for key, er in ordered:
            body = endpoint_state(er, ran)
            body_text = canonical_plain(body)
            state_fp = digest(body_text)
            row = known.get(key)
            if row is None:
                first_sight.append(_NewEndpoint(key, er, body_text, state_fp))
                continue
            if (
                row is not None
                and row[1] is not None
                and row[2] == state_fp
                and row[3] == data_fp
                and row[4] is not None
                and started_ts >= float(row[4])
            ):
                unchanged.append((int(row[0]), int(row[1])))
                continue
            if row[1] is not None and row[2] != state_fp and started_ts >= float(row[4] or 0):
                moved.append(_Changed(key, er, body, body_text, state_fp, row))
                continue
            changes, was_changed = self._record_endpoint(
                tx, seq, started_ts, key, er, data_fp, policy_name, kind, cache, body, body_text
            )
            changed += was_changed
            all_changes.extend(changes)
        if moved:
            all_changes.extend(
                self._record_changed(tx, seq, started_ts, moved, data_fp, policy_name, kind, cache)
            )
            changed += len(moved)
        if first_sight:
            leftovers = self._record_first_sights(
                tx, seq, started_ts, first_sight, data_fp, policy_name, kind, cache
            )
            changed += len(first_sight) - len(leftovers)
            for item in leftovers:  # another worker created them meanwhile
                changes, was_changed = self._record_endpoint(
                    tx,
                    seq,
                    started_ts,
                    item.key,
                    item.result,
                    data_fp,
                    policy_name,
                    kind,
                    cache,
                    json.loads(item.body_text),
                    item.body_text,
                )
                changed += was_changed
                all_changes.extend(changes)
        if unchanged and tx.arrays:
            # The common case in monitoring: nothing changed, only "last seen" moves; one
            # set-based statement per table, not one per endpoint.
            # (PostgreSQL runs every data-modifying WITH part: three tables, one round trip.)
            endpoint_ids = [endpoint_id for endpoint_id, _ in unchanged]
            tx.execute(
                "WITH s AS (UPDATE endpoint_state SET last_seq = ?, last_ts = ?,"
                " checks = checks + 1 WHERE id = ANY(?)),"
                " o AS (UPDATE observation SET last_seq = ?, last_ts = ?"
                " WHERE endpoint_id = ANY(?) AND current = 1)"
                " UPDATE endpoint SET last_ts = ? WHERE id = ANY(?)",
                (
                    seq,
                    started_ts,
                    [state_id for _, state_id in unchanged],
                    seq,
                    started_ts,
                    endpoint_ids,
                    started_ts,
                    endpoint_ids,
                ),
            )
        elif unchanged:
            tx.executemany(
                "UPDATE endpoint_state SET last_seq = ?, last_ts = ?, checks = checks + 1"
                " WHERE id = ?",
                [(seq, started_ts, state_id) for _, state_id in unchanged],
            )
            tx.executemany(
                "UPDATE observation SET last_seq = ?, last_ts = ?"
                " WHERE endpoint_id = ? AND current = 1",
                [(seq, started_ts, endpoint_id) for endpoint_id, _ in unchanged],
            )
            tx.executemany(
                "UPDATE endpoint SET last_ts = ? WHERE id = ?",
                [(started_ts, endpoint_id) for endpoint_id, _ in unchanged],
            )
        if unchanged and kind == "audit":
            tx.insert_rows(  # COPY on PostgreSQL, one executemany on SQLite
                "run_endpoint",
                ("run_seq", "endpoint_id", "state_id"),
                [(seq, endpoint_id, state_id) for endpoint_id, state_id in unchanged],
            )
        if changed:
            tx.execute("UPDATE run SET changed_count = ? WHERE seq = ?", (changed, seq))
        if all_changes:
            enqueue_alerts(tx, self.db.dialect, seq)
        return RecordOutcome(result.run_id, seq, True, len(ordered), changed, tuple(all_changes))

    def _record_first_sights(
        self,
        tx: Tx,
        seq: int,
        ts: float,
        items: list[_NewEndpoint],
        data_fp: str,
        policy_name: str | None,
        kind: str,
        cache: TxCache,
    ) -> list[_NewEndpoint]:
        """Endpoints never seen before, in a few bulk statements (not several per endpoint).

        Returns those another worker created in the meantime: they take the normal path.
        """
        names = [
            (i.key, i.result.endpoint.host, i.result.endpoint.display or i.result.endpoint.host)
            for i in items
        ]
        if tx.arrays:
            tx.execute(
                "INSERT INTO endpoint (key, host, display)"
                " SELECT * FROM unnest(?::text[], ?::text[], ?::text[])"
                " ON CONFLICT (key) DO NOTHING",
                [list(column) for column in zip(*names, strict=True)],
            )
        else:
            tx.executemany(
                "INSERT INTO endpoint (key, host, display) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                names,
            )
        rows = self._endpoint_rows(tx, [i.key for i in items])
        fresh = [i for i in items if rows[i.key][1] is None]
        leftovers = [i for i in items if rows[i.key][1] is not None]
        if not fresh:
            return leftovers
        ids = {i.key: int(rows[i.key][0]) for i in fresh}
        verdicts = [
            None if i.result.verdict is None else int(i.result.verdict.verdict) for i in fresh
        ]
        state_ids: dict[int, int] = {}
        if tx.arrays:
            returned = tx.execute(
                "INSERT INTO endpoint_state (endpoint_id, state_fp, body, verdict, policy,"
                " data_fp, first_seq, last_seq, first_ts, last_ts)"
                " SELECT u.e, u.f, u.b, u.v, ?::text, ?::text, ?::bigint, ?::bigint,"
                " ?::float8, ?::float8"
                " FROM unnest(?::bigint[], ?::text[], ?::text[], ?::bigint[]) AS u(e, f, b, v)"
                " RETURNING endpoint_id, id",
                (
                    policy_name,
                    data_fp,
                    seq,
                    seq,
                    ts,
                    ts,
                    [ids[i.key] for i in fresh],
                    [i.state_fp for i in fresh],
                    [i.body_text for i in fresh],
                    verdicts,
                ),
            ).rows
        else:
            tx.executemany(
                "INSERT INTO endpoint_state (endpoint_id, state_fp, body, verdict, policy,"
                " data_fp, first_seq, last_seq, first_ts, last_ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (ids[i.key], i.state_fp, i.body_text, v, policy_name, data_fp, seq, seq, ts, ts)
                    for i, v in zip(fresh, verdicts, strict=True)
                ],
            )
            returned = tx.rows_in(
                "SELECT endpoint_id, id FROM endpoint_state WHERE endpoint_id {IN}"
                " AND first_seq = ?",
                sorted(ids.values()),
                after=(seq,),
            )
        state_ids = {int(r[0]): int(r[1]) for r in returned}
        pairs = [(ids[i.key], facts) for i in fresh for facts in i.result.facts]
        facts_ids = self._facts_id_list(
            tx, [canonical(to_jsonable(facts)) for _, facts in pairs], cache
        )
        observations = []
        for (endpoint_id, facts), facts_id in zip(pairs, facts_ids, strict=True):
            summary = location_summary(facts)
            observations.append(
                (
                    endpoint_id,
                    facts.ip,
                    digest(canonical_plain(summary)),
                    summary["country"],
                    summary["provider"],
                    summary["region"],
                    summary["asn"],
                    facts_id,
                    data_fp,
                    seq,
                    seq,
                    ts,
                    ts,
                    1,
                )
            )
        tx.insert_rows("observation", _OBSERVATION_COLUMNS, observations)
        if tx.arrays:
            tx.execute(
                "UPDATE endpoint AS e SET state_id = u.s, state_fp = u.f, data_fp = ?,"
                " last_ts = ? FROM unnest(?::bigint[], ?::bigint[], ?::text[]) AS u(id, s, f)"
                " WHERE e.id = u.id",
                (
                    data_fp,
                    ts,
                    [ids[i.key] for i in fresh],
                    [state_ids[ids[i.key]] for i in fresh],
                    [i.state_fp for i in fresh],
                ),
            )
        else:
            tx.executemany(
                "UPDATE endpoint SET state_id = ?, state_fp = ?, data_fp = ?, last_ts = ?"
                " WHERE id = ?",
                [(state_ids[ids[i.key]], i.state_fp, data_fp, ts, ids[i.key]) for i in fresh],
            )
        if kind == "audit":
            tx.insert_rows(
                "run_endpoint",
                ("run_seq", "endpoint_id", "state_id"),
                [(seq, ids[i.key], state_ids[ids[i.key]]) for i in fresh],
            )
        return leftovers

    @staticmethod
    def _held(old_body: str | None, item: _Changed) -> _Changed:
        """``item`` with the control fields its check did not run kept from the state
        before (``drift.hold_control``); its fingerprint stays the check's own."""
        if not old_body or "control_evidence" not in item.body:
            return item
        body = hold_control(json.loads(old_body), item.body)
        if body is item.body:
            return item
        return replace(item, body=body, body_text=canonical_plain(body))

    def _record_changed(
        self,
        tx: Tx,
        seq: int,
        ts: float,
        items: list[_Changed],
        data_fp: str,
        policy_name: str | None,
        kind: str,
        cache: TxCache,
    ) -> list[Change]:
        """Known endpoints whose state changed, in bulk: a new state each, observations
        closed or extended or opened, drift events. Same rows as ``_record_endpoint``."""
        ids = [int(i.row[0]) for i in items]
        old_ids = [int(i.row[1]) for i in items]
        old_bodies = {
            int(r[0]): r[1]
            for r in tx.rows_in("SELECT id, body FROM endpoint_state WHERE id {IN}", old_ids)
        }
        items = [
            self._held(old_bodies.get(old_id), item)
            for old_id, item in zip(old_ids, items, strict=True)
        ]
        verdicts = [
            None if i.result.verdict is None else int(i.result.verdict.verdict) for i in items
        ]
        if tx.arrays:
            returned = tx.execute(
                "INSERT INTO endpoint_state (endpoint_id, state_fp, body, verdict, policy,"
                " data_fp, first_seq, last_seq, first_ts, last_ts)"
                " SELECT u.e, u.f, u.b, u.v, ?::text, ?::text, ?::bigint, ?::bigint,"
                " ?::float8, ?::float8"
                " FROM unnest(?::bigint[], ?::text[], ?::text[], ?::bigint[]) AS u(e, f, b, v)"
                " RETURNING endpoint_id, id",
                (
                    policy_name,
                    data_fp,
                    seq,
                    seq,
                    ts,
                    ts,
                    ids,
                    [i.state_fp for i in items],
                    [i.body_text for i in items],
                    verdicts,
                ),
            ).rows
        else:
            tx.executemany(
                "INSERT INTO endpoint_state (endpoint_id, state_fp, body, verdict, policy,"
                " data_fp, first_seq, last_seq, first_ts, last_ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (e, i.state_fp, i.body_text, v, policy_name, data_fp, seq, seq, ts, ts)
                    for e, i, v in zip(ids, items, verdicts, strict=True)
                ],
            )
            returned = tx.rows_in(
                "SELECT endpoint_id, id FROM endpoint_state WHERE endpoint_id {IN}"
                " AND first_seq = ? AND late = 0",
                sorted(ids),
                after=(seq,),
            )
        new_states = {int(r[0]): int(r[1]) for r in returned}
        current: dict[int, dict[str, tuple[int, str]]] = {}
        for r in tx.rows_in(
            "SELECT endpoint_id, id, ip, location_fp FROM observation"
            " WHERE endpoint_id {IN} AND current = 1",
            ids,
        ):
            current.setdefault(int(r[0]), {})[r[2]] = (int(r[1]), r[3])
        pairs = [(e, facts) for e, i in zip(ids, items, strict=True) for facts in i.result.facts]
        facts_ids = self._facts_id_list(
            tx, [canonical(to_jsonable(facts)) for _, facts in pairs], cache
        )
        extended: list[tuple[Any, ...]] = []  # (seq, ts, facts_id, data_fp, observation id)
        closed: list[int] = []
        opened: list[tuple[Any, ...]] = []
        new_ips: dict[int, set[str]] = {}
        for (endpoint_id, facts), facts_id in zip(pairs, facts_ids, strict=True):
            new_ips.setdefault(endpoint_id, set()).add(facts.ip)
            summary = location_summary(facts)
            location_fp = digest(canonical_plain(summary))
            existing = current.get(endpoint_id, {}).get(facts.ip)
            if existing is not None and existing[1] == location_fp:
                extended.append((seq, ts, facts_id, data_fp, existing[0]))
                continue
            if existing is not None:
                closed.append(existing[0])
            opened.append(
                (
                    endpoint_id,
                    facts.ip,
                    location_fp,
                    summary["country"],
                    summary["provider"],
                    summary["region"],
                    summary["asn"],
                    facts_id,
                    data_fp,
                    seq,
                    seq,
                    ts,
                    ts,
                    1,
                )
            )
        for endpoint_id, by_ip in current.items():
            closed += [
                obs_id
                for ip, (obs_id, _) in by_ip.items()
                if ip not in new_ips.get(endpoint_id, set())
            ]
        if extended and tx.arrays:
            tx.execute(
                "UPDATE observation AS o SET last_seq = ?, last_ts = ?, facts_id = u.f,"
                " data_fp = ? FROM unnest(?::bigint[], ?::bigint[]) AS u(id, f) WHERE o.id = u.id",
                (seq, ts, data_fp, [x[4] for x in extended], [x[2] for x in extended]),
            )
        elif extended:
            tx.executemany(
                "UPDATE observation SET last_seq = ?, last_ts = ?, facts_id = ?, data_fp = ?"
                " WHERE id = ?",
                extended,
            )
        tx.rows_in("UPDATE observation SET current = 0 WHERE id {IN}", sorted(closed))
        tx.insert_rows("observation", _OBSERVATION_COLUMNS, opened)
        displays = [i.result.endpoint.display or i.result.endpoint.host for i in items]
        if tx.arrays:
            tx.execute(
                "UPDATE endpoint AS e SET state_id = u.s, state_fp = u.f, data_fp = ?,"
                " last_ts = ?, display = u.d"
                " FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[]) AS u(id, s, f, d)"
                " WHERE e.id = u.id",
                (
                    data_fp,
                    ts,
                    ids,
                    [new_states[e] for e in ids],
                    [i.state_fp for i in items],
                    displays,
                ),
            )
        else:
            tx.executemany(
                "UPDATE endpoint SET state_id = ?, state_fp = ?, data_fp = ?, last_ts = ?,"
                " display = ? WHERE id = ?",
                [
                    (new_states[e], i.state_fp, data_fp, ts, d, e)
                    for e, i, d in zip(ids, items, displays, strict=True)
                ],
            )
        all_changes: list[Change] = []
        events: list[tuple[Any, ...]] = []
        for endpoint_id, old_id, item in zip(ids, old_ids, items, strict=True):
            old_body = old_bodies.get(old_id)
            before = json.loads(old_body) if old_body else None
            old_data_fp = item.row[3]
            changes = compare(before, item.body, old_data_fp is not None and old_data_fp != data_fp)
            all_changes += changes
            events += [
                (endpoint_id, seq, ts, c.kind.value, c.ip, c.before, c.after, c.detail)
                for c in changes
            ]
        tx.insert_rows(
            "drift_event",
            ("endpoint_id", "run_seq", "at_ts", "kind", "ip", "before", "after", "detail"),
            events,
        )
        if kind == "audit":
            tx.insert_rows(
                "run_endpoint",
                ("run_seq", "endpoint_id", "state_id"),
                [(seq, e, new_states[e]) for e in ids],
            )
        return all_changes

    def _endpoint_rows(self, tx: Tx, keys: Sequence[str]) -> dict[str, Row]:
        """key -> (id, state_id, state_fp, data_fp, last_ts) for the endpoints already known."""
        # PostgreSQL: lock them, so a concurrent writer cannot change a state we extend.
        lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
        rows = tx.rows_in(
            "SELECT key, id, state_id, state_fp, data_fp, last_ts FROM endpoint"
            f" WHERE key {{IN}} ORDER BY id{lock}",
            keys,
        )
        return {r[0]: r[1:] for r in rows}

    def _record_endpoint(
        self,
        tx: Tx,
        seq: int,
        ts: float,
        key: str,
        er: EndpointResult,
        data_fp: str,
        policy_name: str | None,
        kind: str,
        cache: TxCache,
        body: dict[str, Any],
        body_text: str,
    ) -> tuple[list[Change], int]:
        state_fp = digest(body_text)
        ep = tx.execute(
            "INSERT INTO endpoint (key, host, display) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET display = excluded.display"
            " RETURNING id, state_id, state_fp, data_fp, last_ts",
            (key, er.endpoint.host, er.endpoint.display or er.endpoint.host),
        ).one()
        assert ep is not None
        endpoint_id, state_id, old_fp, old_data_fp, last_ts = ep
        verdict = None if er.verdict is None else int(er.verdict.verdict)

        if state_id is not None and last_ts is not None and ts < float(last_ts):
            # A check that arrives after a newer one (a worker flushed its buffer late):
            # keep it as history, but it must not become the current state or raise events.
            if state_fp == old_fp:
                return [], 0
            late_id = tx.execute(
                "INSERT INTO endpoint_state (endpoint_id, state_fp, body, verdict, policy,"
                " data_fp, first_seq, last_seq, first_ts, last_ts, late)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id",
                (endpoint_id, state_fp, body_text, verdict, policy_name, data_fp, seq, seq, ts, ts),
            ).scalar()
            if kind == "audit":
                tx.execute(
                    "INSERT INTO run_endpoint (run_seq, endpoint_id, state_id) VALUES (?, ?, ?)",
                    (seq, endpoint_id, late_id),
                )
            return [], 0

        if state_id is not None and state_fp == old_fp:
            tx.execute(
                "UPDATE endpoint_state SET last_seq = ?, last_ts = ?, checks = checks + 1,"
                " data_fp = ? WHERE id = ?",
                (seq, ts, data_fp, state_id),
            )
            if data_fp == old_data_fp:
                tx.execute(
                    "UPDATE observation SET last_seq = ?, last_ts = ?"
                    " WHERE endpoint_id = ? AND current = 1",
                    (seq, ts, endpoint_id),
                )
            else:
                # Same places from new data: keep the rows, point them at the new evidence.
                for facts in er.facts:
                    facts_id = self._facts_id(tx, canonical(to_jsonable(facts)), cache)
                    tx.execute(
                        "UPDATE observation SET last_seq = ?, last_ts = ?, facts_id = ?,"
                        " data_fp = ? WHERE endpoint_id = ? AND ip = ? AND current = 1",
                        (seq, ts, facts_id, data_fp, endpoint_id, facts.ip),
                    )
            tx.execute(
                "UPDATE endpoint SET data_fp = ?, last_ts = ? WHERE id = ?",
                (data_fp, ts, endpoint_id),
            )
            if kind == "audit":
                tx.execute(
                    "INSERT INTO run_endpoint (run_seq, endpoint_id, state_id) VALUES (?, ?, ?)",
                    (seq, endpoint_id, state_id),
                )
            return [], 0

        before: dict[str, Any] | None = None
        if state_id is not None:
            old_body = tx.execute(
                "SELECT body FROM endpoint_state WHERE id = ?", (state_id,)
            ).scalar()
            before = json.loads(old_body) if old_body else None
            held = hold_control(before, body)
            if held is not body:
                body, body_text = held, canonical_plain(held)
        data_changed = old_data_fp is not None and old_data_fp != data_fp
        changes = compare(before, body, data_changed)
        new_state_id = int(
            tx.execute(
                "INSERT INTO endpoint_state (endpoint_id, state_fp, body, verdict, policy,"
                " data_fp, first_seq, last_seq, first_ts, last_ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (endpoint_id, state_fp, body_text, verdict, policy_name, data_fp, seq, seq, ts, ts),
            ).scalar()
        )
        current: dict[str, tuple[int, str]] = {}
        if state_id is not None:  # a first sight has no observations yet
            current = {
                row[1]: (int(row[0]), row[2])
                for row in tx.query(
                    "SELECT id, ip, location_fp FROM observation"
                    " WHERE endpoint_id = ? AND current = 1",
                    (endpoint_id,),
                )
            }
        new_ips = set()
        for facts in er.facts:
            new_ips.add(facts.ip)
            summary = location_summary(facts)
            location_fp = digest(canonical_plain(summary))
            facts_id = self._facts_id(tx, canonical(to_jsonable(facts)), cache)
            existing = current.get(facts.ip)
            if existing is not None and existing[1] == location_fp:
                tx.execute(
                    "UPDATE observation SET last_seq = ?, last_ts = ?, facts_id = ?, data_fp = ?"
                    " WHERE id = ?",
                    (seq, ts, facts_id, data_fp, existing[0]),
                )
                continue
            if existing is not None:
                tx.execute("UPDATE observation SET current = 0 WHERE id = ?", (existing[0],))
            tx.execute(
                "INSERT INTO observation (endpoint_id, ip, location_fp, country, provider,"
                " region, asn, facts_id, data_fp, first_seq, last_seq, first_ts, last_ts,"
                " current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    endpoint_id,
                    facts.ip,
                    location_fp,
                    summary["country"],
                    summary["provider"],
                    summary["region"],
                    summary["asn"],
                    facts_id,
                    data_fp,
                    seq,
                    seq,
                    ts,
                    ts,
                ),
            )
        for ip, (obs_id, _fp) in current.items():
            if ip not in new_ips:
                tx.execute("UPDATE observation SET current = 0 WHERE id = ?", (obs_id,))
        tx.execute(
            "UPDATE endpoint SET state_id = ?, state_fp = ?, data_fp = ?, last_ts = ? WHERE id = ?",
            (new_state_id, state_fp, data_fp, ts, endpoint_id),
        )
        if changes:
            tx.executemany(
                "INSERT INTO drift_event (endpoint_id, run_seq, at_ts, kind, ip, before, after,"
                " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (endpoint_id, seq, ts, c.kind.value, c.ip, c.before, c.after, c.detail)
                    for c in changes
                ],
            )
        if kind == "audit":
            tx.execute(
                "INSERT INTO run_endpoint (run_seq, endpoint_id, state_id) VALUES (?, ?, ?)",
                (seq, endpoint_id, new_state_id),
            )
        return changes, 1
