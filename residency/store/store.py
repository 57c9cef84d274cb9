"""The history store: runs, deduplicated observations, drift events, watch targets, cache.

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
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from residency.drift import Change, DriftEvent, DriftKind, compare
from residency.model import AuditResult, EndpointResult
from residency.store.backend import Backend, Row, Tx
from residency.store.errors import RunNotFound, StoreError
from residency.store.migrations import migrate
from residency.store.serialize import (
    canonical,
    data_fingerprint,
    digest,
    endpoint_state,
    iso,
    location_summary,
    parse_time,
    to_jsonable,
)

# ------------------------------------------------------------------ result types


@dataclass(frozen=True)
class RecordOutcome:
    """What recording one run did."""

    run_id: str
    run_seq: int
    inserted: bool  # False: this run id was already stored (a replay), nothing written
    checked: int = 0
    changed: int = 0
    events: tuple[Change, ...] = ()


@dataclass(frozen=True)
class RunInfo:
    seq: int
    id: str
    kind: str
    started: str
    finished: str
    endpoint_count: int
    changed_count: int
    data_versions: tuple[tuple[str, str], ...]
    policy: str | None
    verdict: int | None
    resolvers: tuple[str, ...]
    vantages: tuple[str, ...]
    worker: str | None


@dataclass(frozen=True)
class StateSpan:
    """One stretch of time during which an endpoint looked the same."""

    first_seen: str
    last_seen: str
    first_run: str
    last_run: str
    checks: int
    body: dict[str, Any]

    @property
    def verdict(self) -> int | None:
        value = self.body.get("verdict")
        return None if value is None else int(value)


@dataclass(frozen=True)
class LocationSeen:
    """First and last time an address of an endpoint was seen in one place."""

    ip: str
    country: str | None
    provider: str | None
    region: str | None
    asn: int | None
    first_seen: str
    last_seen: str
    current: bool


@dataclass(frozen=True)
class Timeline:
    host: str
    endpoints: tuple[str, ...]
    spans: tuple[StateSpan, ...]
    events: tuple[DriftEvent, ...]
    locations: tuple[LocationSeen, ...]


@dataclass(frozen=True)
class DiffEntry:
    endpoint: str
    host: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class RunDiff:
    run_a: RunInfo
    run_b: RunInfo
    entries: tuple[DiffEntry, ...]


@dataclass(frozen=True)
class EndpointCompliance:
    endpoint: str
    host: str
    checks: int
    compliant_checks: int
    judged_checks: int
    uptime: float | None  # time-weighted share of the period spent compliant; None if unjudged
    current_verdict: int | None
    locations: tuple[LocationSeen, ...]


@dataclass(frozen=True)
class ComplianceReport:
    since: str
    until: str
    endpoints: tuple[EndpointCompliance, ...]


@dataclass(frozen=True)
class TargetSpec:
    """A watch target as the user declares it."""

    host: str
    display: str = ""
    vantage: str | None = None
    policy: str | None = None
    cadence: float | None = None  # fixed seconds between checks; None: follow the TTL
    min_interval: float = 300.0
    max_interval: float = 86400.0
    jitter: float = 0.1  # +/- share of the interval


@dataclass(frozen=True)
class WatchTarget:
    id: int
    host: str
    display: str
    vantage: str | None
    policy: str | None
    cadence: float | None
    min_interval: float
    max_interval: float
    jitter: float
    source: str
    next_due: float
    last_checked: float | None
    checks: int


@dataclass(frozen=True)
class Completion:
    """A claimed target has been checked: when it is next due."""

    target_id: int
    next_due: float
    checked_at: float
    run_id: str | None  # None: the check failed, only the schedule moves


@dataclass(frozen=True)
class BatchOutcome:
    recorded: tuple[RecordOutcome, ...]
    completed: int  # schedule rows we still held and moved on
    lost_leases: tuple[int, ...]  # target ids whose lease another worker took meanwhile


# ------------------------------------------------------------------------ helpers

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


@dataclass
class _TxCache:
    """Facts ids learnt inside a transaction: kept only if it commits."""

    facts: dict[str, int] = field(default_factory=dict)


_RUN_COLUMNS = (
    "seq, id, kind, started, finished, endpoint_count, changed_count, data_versions, "
    "policy, verdict, resolvers, vantages, worker"
)


def _run_info(row: Sequence[Any]) -> RunInfo:
    versions = json.loads(row[7])
    policy = json.loads(row[8]) if row[8] else None
    return RunInfo(
        seq=int(row[0]),
        id=row[1],
        kind=row[2],
        started=row[3],
        finished=row[4],
        endpoint_count=int(row[5]),
        changed_count=int(row[6]),
        data_versions=tuple((v["dataset"], v["version"]) for v in versions),
        policy=(f"{policy['name']} {policy['version']}" if policy else None),
        verdict=None if row[9] is None else int(row[9]),
        resolvers=tuple(json.loads(row[10])),
        vantages=tuple(str(v) for v in json.loads(row[11])),
        worker=row[12],
    )


# -------------------------------------------------------------------------- store


class Store:
    """History of audits and monitoring in one database (see module docstring)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        migrate(backend)
        self._facts_ids: dict[str, int] = {}

    @property
    def label(self) -> str:
        return self.backend.label

    def close(self) -> None:
        self.backend.close()

    def check_writable(self) -> None:
        """Raise ``StoreReadOnly`` (or another store error) now if this store cannot be
        written, so a worker fails before loading data and checking anything."""
        with self.backend.transaction() as tx:
            # Matches no row, but SQLite and PostgreSQL both refuse it on a read-only store.
            tx.execute("UPDATE target SET checks = checks WHERE 1 = 0")
            if self.backend.dialect == "postgresql":
                tx.execute("SELECT txid_current()")  # refused in a read-only transaction

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ recording

    def record_run(self, result: AuditResult, *, kind: str = "audit") -> str:
        """Store one audit run with its resolutions, facts and verdicts; returns its id.

        Recording the same run id twice stores it once.
        """
        return self.record(result, kind=kind).run_id

    def record(
        self, result: AuditResult, *, kind: str = "audit", worker: str | None = None
    ) -> RecordOutcome:
        cache = _TxCache()
        with self.backend.transaction() as tx:
            outcome = self._record_in(tx, result, kind, worker, cache)
        self._remember(cache)
        return outcome

    def _remember(self, cache: _TxCache) -> None:
        if len(self._facts_ids) > 200_000:
            self._facts_ids.clear()
        self._facts_ids.update(cache.facts)

    def _facts_id(self, tx: Tx, body: str, cache: _TxCache) -> int:
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
            raise StoreError(f"history database {self.label}: facts row vanished")
        cache.facts[sha] = int(row[0])
        return int(row[0])

    def _record_in(
        self, tx: Tx, result: AuditResult, kind: str, worker: str | None, cache: _TxCache
    ) -> RecordOutcome:
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
        for key, er in ordered:
            body = endpoint_state(er)
            body_text = canonical(body)
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
            changes, was_changed = self._record_endpoint(
                tx, seq, started_ts, key, er, data_fp, policy_name, kind, cache, body, body_text
            )
            changed += was_changed
            all_changes.extend(changes)
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
        if unchanged:
            # The common case in monitoring: nothing changed, only "last seen" moves.
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
            if kind == "audit":
                tx.executemany(
                    "INSERT INTO run_endpoint (run_seq, endpoint_id, state_id) VALUES (?, ?, ?)",
                    [(seq, endpoint_id, state_id) for endpoint_id, state_id in unchanged],
                )
        if changed:
            tx.execute("UPDATE run SET changed_count = ? WHERE seq = ?", (changed, seq))
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
        cache: _TxCache,
    ) -> list[_NewEndpoint]:
        """Endpoints never seen before, in a few bulk statements (not several per endpoint).

        Returns those another worker created in the meantime: they take the normal path.
        """
        tx.executemany(
            "INSERT INTO endpoint (key, host, display) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO NOTHING",
            [
                (i.key, i.result.endpoint.host, i.result.endpoint.display or i.result.endpoint.host)
                for i in items
            ],
        )
        rows = self._endpoint_rows(tx, [i.key for i in items])
        fresh = [i for i in items if rows[i.key][1] is None]
        leftovers = [i for i in items if rows[i.key][1] is not None]
        if not fresh:
            return leftovers
        ids = {i.key: int(rows[i.key][0]) for i in fresh}
        verdicts = {
            i.key: None if i.result.verdict is None else int(i.result.verdict.verdict)
            for i in fresh
        }
        tx.executemany(
            "INSERT INTO endpoint_state (endpoint_id, state_fp, body, verdict, policy,"
            " data_fp, first_seq, last_seq, first_ts, last_ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    ids[i.key],
                    i.state_fp,
                    i.body_text,
                    verdicts[i.key],
                    policy_name,
                    data_fp,
                    seq,
                    seq,
                    ts,
                    ts,
                )
                for i in fresh
            ],
        )
        state_ids: dict[int, int] = {}
        id_list = sorted(ids.values())
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for r in tx.query(
                f"SELECT endpoint_id, id FROM endpoint_state WHERE endpoint_id IN ({marks})"
                " AND first_seq = ?",
                (*chunk, seq),
            ):
                state_ids[int(r[0])] = int(r[1])
        observations = []
        for i in fresh:
            for facts in i.result.facts:
                summary = location_summary(facts)
                observations.append(
                    (
                        ids[i.key],
                        facts.ip,
                        digest(canonical(summary)),
                        summary["country"],
                        summary["provider"],
                        summary["region"],
                        summary["asn"],
                        self._facts_id(tx, canonical(to_jsonable(facts)), cache),
                        data_fp,
                        seq,
                        seq,
                        ts,
                        ts,
                    )
                )
        tx.executemany(
            "INSERT INTO observation (endpoint_id, ip, location_fp, country, provider,"
            " region, asn, facts_id, data_fp, first_seq, last_seq, first_ts, last_ts,"
            " current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            observations,
        )
        tx.executemany(
            "UPDATE endpoint SET state_id = ?, state_fp = ?, data_fp = ?, last_ts = ? WHERE id = ?",
            [(state_ids[ids[i.key]], i.state_fp, data_fp, ts, ids[i.key]) for i in fresh],
        )
        if kind == "audit":
            tx.executemany(
                "INSERT INTO run_endpoint (run_seq, endpoint_id, state_id) VALUES (?, ?, ?)",
                [(seq, ids[i.key], state_ids[ids[i.key]]) for i in fresh],
            )
        return leftovers

    def _endpoint_rows(self, tx: Tx, keys: Sequence[str]) -> dict[str, Row]:
        """key -> (id, state_id, state_fp, data_fp, last_ts) for the endpoints already known."""
        out: dict[str, Row] = {}
        # PostgreSQL: lock them, so a concurrent writer cannot change a state we extend.
        lock = " FOR UPDATE" if self.backend.dialect == "postgresql" else ""
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for r in tx.query(
                "SELECT key, id, state_id, state_fp, data_fp, last_ts FROM endpoint"
                f" WHERE key IN ({marks}) ORDER BY id{lock}",
                chunk,
            ):
                out[r[0]] = r[1:]
        return out

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
        cache: _TxCache,
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
            location_fp = digest(canonical(summary))
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

    # ------------------------------------------------------------------ reading runs

    def runs(self, limit: int = 50) -> list[RunInfo]:
        with self.backend.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_RUN_COLUMNS} FROM run ORDER BY seq DESC LIMIT ?", (limit,)
            ).rows
        return [_run_info(r) for r in rows]

    def run(self, ref: str) -> RunInfo:
        """A run by id, unique id prefix, or ``#SEQ``."""
        with self.backend.transaction(write=False) as tx:
            if ref.startswith("#") and ref[1:].isdigit():
                rows = tx.execute(
                    f"SELECT {_RUN_COLUMNS} FROM run WHERE seq = ?", (int(ref[1:]),)
                ).rows
            else:
                rows = (
                    tx.execute(f"SELECT {_RUN_COLUMNS} FROM run WHERE id = ?", (ref,)).rows
                    or tx.execute(
                        f"SELECT {_RUN_COLUMNS} FROM run WHERE substr(id, 1, ?) = ?"
                        " ORDER BY seq LIMIT 2",
                        (len(ref), ref),
                    ).rows
                )
        if not rows:
            raise RunNotFound(f"run {ref!r}: no such run in history database {self.label}")
        if len(rows) > 1:
            raise RunNotFound(f"run {ref!r}: ambiguous, matches several runs; give more of the id")
        return _run_info(rows[0])

    def run_count(self) -> int:
        with self.backend.transaction(write=False) as tx:
            return int(tx.execute("SELECT COUNT(*) FROM run").scalar())

    # ------------------------------------------------------------------ history

    def _event_rows(
        self, tx: Tx, where: str, params: Sequence[Any], limit: int = 1_000_000
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

    def _locations(
        self, tx: Tx, endpoint_ids: Sequence[int], since: float | None, grouped: bool = True
    ) -> list[LocationSeen]:
        """Places seen: merged per (address, place) when ``grouped``, else every interval."""
        if not endpoint_ids:
            return []
        marks = ", ".join("?" for _ in endpoint_ids)
        floor = since if since is not None else float("-inf")
        if grouped:
            sql = (
                "SELECT ip, country, provider, region, asn, MIN(first_ts), MAX(last_ts),"
                f" MAX(current) FROM observation WHERE endpoint_id IN ({marks}) AND last_ts >= ?"
                " GROUP BY ip, country, provider, region, asn ORDER BY MIN(first_ts), ip"
            )
        else:
            sql = (
                "SELECT ip, country, provider, region, asn, first_ts, last_ts, current"
                f" FROM observation WHERE endpoint_id IN ({marks}) AND last_ts >= ?"
                " ORDER BY first_ts, ip, id"
            )
        rows = tx.execute(sql, (*endpoint_ids, floor)).rows
        return [
            LocationSeen(
                ip=r[0],
                country=r[1],
                provider=r[2],
                region=r[3],
                asn=None if r[4] is None else int(r[4]),
                first_seen=iso(max(float(r[5]), floor)),
                last_seen=iso(float(r[6])),
                current=bool(r[7]),
            )
            for r in rows
        ]

    def history(self, host: str) -> Timeline:
        """Everything recorded about one host: its states over time, events, places."""
        with self.backend.transaction(write=False) as tx:
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
                events = self._event_rows(tx, f"d.endpoint_id IN ({marks})", ids)
            locations = self._locations(tx, ids, None, grouped=False)
        return Timeline(
            host=host,
            endpoints=tuple(r[1] for r in endpoints),
            spans=tuple(spans),
            events=tuple(events),
            locations=tuple(locations),
        )

    def events(self, since_id: int = 0, limit: int = 1000) -> list[DriftEvent]:
        with self.backend.transaction(write=False) as tx:
            return self._event_rows(tx, "d.id > ?", (since_id,), limit)

    # ------------------------------------------------------------------ diff

    def diff(self, run_a: str | None = None, run_b: str | None = None) -> RunDiff:
        """What changed from run A to run B (the last two runs by default).

        Each endpoint is compared as it stood at each run: its latest state recorded
        at or before that run, so monitor batches that each touch a few targets compare.
        """
        if run_a is None and run_b is None:
            last = self.runs(limit=2)
            if len(last) < 2:
                raise RunNotFound(
                    f"history database {self.label} holds {len(last)} run(s); diff needs two"
                )
            info_b, info_a = last[0], last[1]
        else:
            info_a = self.run(run_a) if run_a else self.runs(limit=1)[0]
            info_b = self.run(run_b) if run_b else self.runs(limit=1)[0]
        low, high = sorted((info_a.seq, info_b.seq))
        entries: list[DiffEntry] = []
        with self.backend.transaction(write=False) as tx:
            touched = tx.execute(
                "SELECT DISTINCT s.endpoint_id, e.key, e.host FROM endpoint_state s"
                " JOIN endpoint e ON e.id = s.endpoint_id"
                " WHERE s.late = 0 AND s.first_seq > ? AND s.first_seq <= ? ORDER BY e.key",
                (low, high),
            ).rows
            for endpoint_id, key, host in touched:
                states = []
                for seq in (info_a.seq, info_b.seq):
                    row = tx.execute(
                        "SELECT body, data_fp FROM endpoint_state WHERE endpoint_id = ?"
                        " AND late = 0 AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1",
                        (endpoint_id, seq),
                    ).one()
                    states.append(row)
                before, after = states
                if after is None:
                    continue
                changes = compare(
                    json.loads(before[0]) if before else None,
                    json.loads(after[0]),
                    before is not None and before[1] != after[1],
                )
                if before is None:
                    changes = [
                        Change(DriftKind.ADDRESS_APPEARED, a["ip"], None, None, "first seen")
                        for a in json.loads(after[0])["addresses"]
                    ] or [Change(DriftKind.OUTCOME_CHANGED, None, None, None, "first seen")]
                if changes:
                    entries.append(DiffEntry(key, host, tuple(changes)))
        return RunDiff(info_a, info_b, tuple(entries))

    # ------------------------------------------------------------------ compliance report

    def report(self, since: float, until: float, stale_after: float = 86400.0) -> ComplianceReport:
        """Compliance over [since, until]: per endpoint, the share of time and of checks
        spent compliant (PASS or WAIVED), and first/last seen per location.

        A state lasts from its first check to the next state's first check; the latest
        one lasts to ``until`` but no longer than ``stale_after`` past its last check.
        """
        out: list[EndpointCompliance] = []
        with self.backend.transaction(write=False) as tx:
            endpoints = tx.execute(
                "SELECT id, key, host FROM endpoint WHERE last_ts >= ? ORDER BY key", (since,)
            ).rows
            for endpoint_id, key, host in endpoints:
                states = tx.execute(
                    "SELECT first_ts, last_ts, checks, verdict FROM endpoint_state"
                    " WHERE endpoint_id = ? AND late = 0 AND first_ts <= ? ORDER BY first_ts, id",
                    (endpoint_id, until),
                ).rows
                # Keep the state in force at `since` (the last one starting before it).
                start = 0
                for i, st in enumerate(states):
                    if float(st[0]) <= since:
                        start = i
                states = states[start:]
                checks = compliant = judged = 0
                good = total = 0.0
                for i, (first_ts, last_ts, n, verdict) in enumerate(states):
                    if float(last_ts) < since:
                        continue
                    begin = max(float(first_ts), since)
                    if i + 1 < len(states):
                        end = float(states[i + 1][0])
                    else:
                        # The latest state holds until the period ends, unless checks
                        # stopped: then only until `stale_after` past the last one.
                        end = float(last_ts) + stale_after
                    end = min(end, until)
                    span = max(0.0, end - begin)
                    checks += int(n)
                    if verdict is not None:
                        judged += int(n)
                        total += span
                        if int(verdict) <= 1:  # PASS or WAIVED
                            compliant += int(n)
                            good += span
                uptime: float | None
                if judged == 0:
                    uptime = None
                elif total > 0:
                    uptime = good / total
                else:
                    uptime = compliant / judged
                current = states[-1][3] if states else None
                out.append(
                    EndpointCompliance(
                        endpoint=key,
                        host=host,
                        checks=checks,
                        compliant_checks=compliant,
                        judged_checks=judged,
                        uptime=uptime,
                        current_verdict=None if current is None else int(current),
                        locations=tuple(self._locations(tx, [int(endpoint_id)], since)),
                    )
                )
        return ComplianceReport(iso(since), iso(until), tuple(out))

    # ------------------------------------------------------------------ alerts bookkeeping

    def pending_alerts(self, channel: str, limit: int = 500) -> list[DriftEvent]:
        """Events not yet delivered to (nor being sent on) ``channel``, oldest first."""
        with self.backend.transaction(write=False) as tx:
            upto = tx.execute(
                "SELECT upto FROM alert_channel WHERE channel = ?", (channel,)
            ).scalar()
            return self._event_rows(
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
        with self.backend.transaction() as tx:
            tx.execute(
                "INSERT INTO alert_channel (channel, upto) VALUES (?, 0)"
                " ON CONFLICT (channel) DO NOTHING",
                (channel,),
            )
            lock = " FOR UPDATE" if self.backend.dialect == "postgresql" else ""
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
            events = self._event_rows(
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
        with self.backend.transaction() as tx:
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
        with self.backend.transaction() as tx:
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
        with self.backend.transaction() as tx:
            newest = int(tx.execute("SELECT COALESCE(MAX(id), 0) FROM drift_event").scalar())
            tx.execute(
                "INSERT INTO alert_channel (channel, upto) VALUES (?, ?)"
                " ON CONFLICT (channel) DO UPDATE SET upto = excluded.upto",
                (channel, newest),
            )

    # ------------------------------------------------------------------ watch targets

    def add_targets(self, specs: Iterable[TargetSpec], now: float, source: str = "watch") -> int:
        """Add or update targets (matched by host, vantage and policy); due at once if new."""
        count = 0
        with self.backend.transaction() as tx:
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
        with self.backend.transaction() as tx:
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
        with self.backend.transaction() as tx:
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
        with self.backend.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_TARGET_COLUMNS} FROM target ORDER BY host, vantage, policy"
            ).rows
        return [_target(r) for r in rows]

    def target_count(self) -> int:
        with self.backend.transaction(write=False) as tx:
            return int(tx.execute("SELECT COUNT(*) FROM target").scalar())

    def next_due(self) -> float | None:
        with self.backend.transaction(write=False) as tx:
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
        lock = " FOR UPDATE SKIP LOCKED" if self.backend.dialect == "postgresql" else ""
        with self.backend.transaction() as tx:
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
        cache = _TxCache()
        recorded: list[RecordOutcome] = []
        with self.backend.transaction() as tx:
            ids = sorted({c.target_id for c in completions})
            ours: set[int] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                ours.update(
                    int(r[0])
                    for r in tx.query(
                        f"SELECT id FROM target WHERE id IN ({marks}) AND lease_owner = ?",
                        (*chunk, owner),
                    )
                )
            mine = [c for c in completions if c.target_id in ours]
            lost = sorted({c.target_id for c in completions} - ours)
            tx.executemany(
                "UPDATE target SET next_due = ?, lease_owner = NULL, last_checked = ?,"
                " last_run = ?, checks = checks + ? WHERE id = ? AND lease_owner = ?",
                [
                    (c.next_due, c.checked_at, c.run_id, 1 if c.run_id else 0, c.target_id, owner)
                    for c in sorted(mine, key=lambda c: c.target_id)
                ],
            )
            done = len(mine)
            for result in results:
                recorded.append(self._record_in(tx, result, kind, owner.split("/")[0], cache))
        self._remember(cache)
        return BatchOutcome(tuple(recorded), done, tuple(lost))

    def release(self, owner: str, target_ids: Iterable[int], now: float) -> None:
        """Give claimed targets back, due now (used when a batch cannot be checked)."""
        with self.backend.transaction() as tx:
            tx.executemany(
                "UPDATE target SET next_due = ?, lease_owner = NULL"
                " WHERE id = ? AND lease_owner = ?",
                [(now, i, owner) for i in target_ids],
            )

    # ------------------------------------------------------------------ generic cache

    def cache_get(
        self, namespace: str, key: str, now: float | None = None
    ) -> tuple[str, float | None] | None:
        """A cached JSON value and its expiry (epoch seconds, None: never), or None when
        absent or expired at ``now`` (default: the current time)."""
        if now is None:
            now = time.time()
        with self.backend.transaction(write=False) as tx:
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
        with self.backend.transaction() as tx:
            tx.execute(
                "INSERT INTO kv_cache (namespace, key, value, expires) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
                " expires = excluded.expires",
                (namespace, key, value_json, expires),
            )

    def cache_purge(self, now: float) -> int:
        with self.backend.transaction() as tx:
            return tx.execute(
                "DELETE FROM kv_cache WHERE expires IS NOT NULL AND expires <= ?", (now,)
            ).rowcount

    def size_bytes(self, compact: bool = False) -> int:
        return self.backend.size_bytes(compact)
