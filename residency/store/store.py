"""The history store: runs, deduplicated observations, drift events, watch targets, cache.

``Store`` is a facade: each job lives in its own module over one shared ``Db``
(recording, runs, history, diff, compliance, alerts, targets, kvcache) and the
methods here only delegate, so callers keep one object with stable names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from residency.drift import DriftEvent
from residency.model import AuditResult
from residency.store.alerts import DEFAULT_LEASE, Alerts
from residency.store.backend import Backend
from residency.store.compliance import Compliance, Judge
from residency.store.db import Db
from residency.store.diff import Diff
from residency.store.history import History
from residency.store.kvcache import KvCache
from residency.store.migrations import migrate
from residency.store.recording import Recorder, endpoint_key
from residency.store.runs import Runs
from residency.store.targets import Targets
from residency.store.types import (
    BatchOutcome,
    Completion,
    ComplianceReport,
    DiffEntry,
    EndpointCompliance,
    LocationSeen,
    RecordOutcome,
    RunDiff,
    RunInfo,
    StateJudgement,
    StateSpan,
    TargetSpec,
    Timeline,
    WatchTarget,
)

__all__ = [
    "BatchOutcome",
    "Completion",
    "ComplianceReport",
    "DiffEntry",
    "EndpointCompliance",
    "Judge",
    "LocationSeen",
    "RecordOutcome",
    "RunDiff",
    "RunInfo",
    "StateJudgement",
    "StateSpan",
    "Store",
    "TargetSpec",
    "Timeline",
    "WatchTarget",
    "endpoint_key",
]


class Store:
    """History of audits and monitoring in one database (see ``recording`` for the model)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        migrate(backend)
        self._db = Db(backend)
        self._recorder = Recorder(self._db)
        self._runs = Runs(self._db)
        self._history = History(self._db)
        self._diff = Diff(self._db, self._runs)
        self._compliance = Compliance(self._db)
        self._alerts = Alerts(self._db)
        self._targets = Targets(self._db, self._recorder)
        self._kv = KvCache(self._db)

    @property
    def label(self) -> str:
        return self._db.label

    def close(self) -> None:
        self.backend.close()

    def check_writable(self) -> None:
        self._db.check_writable()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def size_bytes(self, compact: bool = False) -> int:
        return self.backend.size_bytes(compact)

    # ------------------------------------------------------------------ recording

    def record_run(self, result: AuditResult, *, kind: str = "audit") -> str:
        """Store one audit run; returns its id. Recording the same run id twice stores it once."""
        return self._recorder.record_run(result, kind=kind)

    def record(
        self, result: AuditResult, *, kind: str = "audit", worker: str | None = None
    ) -> RecordOutcome:
        return self._recorder.record(result, kind=kind, worker=worker)

    # ------------------------------------------------------------------ runs

    def runs(self, limit: int = 50) -> list[RunInfo]:
        return self._runs.runs(limit)

    def run(self, ref: str) -> RunInfo:
        """A run by id, unique id prefix, or ``#SEQ``."""
        return self._runs.run(ref)

    def run_count(self) -> int:
        return self._runs.run_count()

    # ------------------------------------------------------------------ history, diff, report

    def history(self, host: str) -> Timeline:
        return self._history.history(host)

    def events(self, since_id: int = 0, limit: int = 1000) -> list[DriftEvent]:
        return self._history.events(since_id, limit)

    def diff(self, run_a: str | None = None, run_b: str | None = None) -> RunDiff:
        return self._diff.diff(run_a, run_b)

    def report(
        self,
        since: float,
        until: float,
        stale_after: float = 86400.0,
        judge: Judge | None = None,
        judged_by: str | None = None,
    ) -> ComplianceReport:
        """Compliance over a period; with ``judge``, the recorded facts re-judged by it."""
        return self._compliance.report(since, until, stale_after, judge, judged_by)

    # ------------------------------------------------------------------ alerts

    def pending_alerts(self, channel: str, limit: int = 500) -> list[DriftEvent]:
        return self._alerts.pending_alerts(channel, limit)

    def claim_alerts(
        self,
        channel: str,
        now: float,
        limit: int = 50,
        lease: float = DEFAULT_LEASE,
        owner: str = "",
    ) -> list[DriftEvent]:
        return self._alerts.claim_alerts(channel, now, limit, lease, owner)

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
        self._alerts.finish_alerts(
            channel, event_ids, now, delivered, owner=owner, retry_at=retry_at
        )

    def outbox_size(self, channel: str | None = None) -> int:
        return self._alerts.outbox_size(channel)

    def open_alert_channel(self, channel: str, backlog: bool) -> bool:
        return self._alerts.open_alert_channel(channel, backlog)

    def skip_alerts_before(self, channel: str) -> None:
        self._alerts.skip_alerts_before(channel)

    # ------------------------------------------------------------------ watch targets

    def add_targets(self, specs: Iterable[TargetSpec], now: float, source: str = "watch") -> int:
        return self._targets.add_targets(specs, now, source)

    def remove_targets(
        self, hosts: Iterable[str], vantage: str | None = None, policy: str | None = None
    ) -> int:
        return self._targets.remove_targets(hosts, vantage, policy)

    def sync_targets(self, source: str, specs: Sequence[TargetSpec], now: float) -> tuple[int, int]:
        return self._targets.sync_targets(source, specs, now)

    def list_targets(self) -> list[WatchTarget]:
        return self._targets.list_targets()

    def target_count(self) -> int:
        return self._targets.target_count()

    def next_due(self) -> float | None:
        return self._targets.next_due()

    def claim_due(
        self, owner: str, now: float, limit: int, lease_seconds: float
    ) -> list[WatchTarget]:
        return self._targets.claim_due(owner, now, limit, lease_seconds)

    def complete_batch(
        self,
        owner: str,
        completions: Sequence[Completion],
        results: Sequence[AuditResult],
        *,
        kind: str = "monitor",
    ) -> BatchOutcome:
        return self._targets.complete_batch(owner, completions, results, kind=kind)

    def release(self, owner: str, target_ids: Iterable[int], now: float) -> None:
        self._targets.release(owner, target_ids, now)

    # ------------------------------------------------------------------ key-value cache

    def cache_get(
        self, namespace: str, key: str, now: float | None = None
    ) -> tuple[str, float | None] | None:
        return self._kv.cache_get(namespace, key, now)

    def cache_put(self, namespace: str, key: str, value_json: str, expires: float | None) -> None:
        self._kv.cache_put(namespace, key, value_json, expires)

    def cache_items(self, namespace: str, now: float) -> list[tuple[str, str, float | None]]:
        return self._kv.cache_items(namespace, now)

    def cache_purge(self, now: float) -> int:
        return self._kv.cache_purge(now)
