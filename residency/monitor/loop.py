"""Scheduled re-resolution: claim due watch targets, audit them, record drift, alert.

The monitor owns no clock, no resolver and no sleeping: it is given a ``clock`` (epoch
seconds), an ``audit`` function (a batch of endpoints -> ``AuditResult``; in production
the Auditor, in tests a fake), and a ``sleep`` for backoff. That keeps every decision
testable with simulated time.

Guarantees:
- a batch's observations and its schedule update commit in one transaction, and a
  run id is stored once, so a retried or replayed commit never duplicates anything;
- a claim is a lease (``next_due`` moves to the lease end), so targets of a worker
  killed with ``kill -9`` fall due again by themselves;
- if the database goes away, finished batches stay buffered (and are spooled to disk
  on shutdown) and are committed when it comes back; nothing observed is lost;
- alerts go out from a sender thread (``monitor.sender``): a webhook never slows the
  checks, and each channel gets every event at least once.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Protocol, TypeVar

from residency.addresses import is_address
from residency.model import AuditResult, Endpoint
from residency.monitor.alerts import AlertSink
from residency.monitor.base import AuditFunction, Batch
from residency.monitor.schedule import backoff_delay, next_check
from residency.monitor.sender import AlertSender
from residency.store import BatchOutcome, Completion, Store, StoreError, WatchTarget
from residency.store.alerts import DEFAULT_LEASE
from residency.store.errors import StoreCorrupt, StorePermanentError, StoreTransientError
from residency.store.serialize import from_jsonable, to_jsonable

log = logging.getLogger("residency.monitor")

Clock = Callable[[], float]
_T = TypeVar("_T")


class MonitorObserver(Protocol):
    """What the monitor tells whoever watches it (the metrics): hooks, no control."""

    def batch_checked(
        self,
        targets: Sequence[WatchTarget],
        results: Sequence[AuditResult],
        failed: int,
        seconds: float,
    ) -> None: ...

    def batch_committed(self, outcome: BatchOutcome) -> None: ...

    def alerts_sent(self, sent: dict[str, int]) -> None: ...

    def wants_schedule(self) -> bool: ...

    def targets_seen(self, targets: Sequence[WatchTarget], force: bool = False) -> bool: ...


@dataclass
class MonitorStats:
    batches: int = 0
    checked: int = 0
    failed: int = 0
    changed: int = 0
    events: int = 0
    lost_leases: int = 0
    store_retries: int = 0
    replayed: int = 0
    alerts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"{self.checked} checked in {self.batches} batch(es), {self.changed} changed, "
            f"{self.events} drift event(s), {self.failed} failed"
        )


@dataclass
class _Pending:
    """A checked batch waiting to be committed."""

    owner: str
    completions: list[Completion]
    results: list[AuditResult]


def _is_ip(text: str) -> bool:
    # Cheap test first: a host name ends in a letter (its TLD); addresses do not.
    if not text or (text[-1].isalpha() and ":" not in text):
        return False
    return is_address(text)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Monitor:
    def __init__(
        self,
        store: Store,
        audit: AuditFunction,
        *,
        clock: Clock = time.time,
        sleep: Callable[[float], None] | None = None,
        worker: str | None = None,
        batch_size: int = 200,
        lease_seconds: float = 600.0,
        sinks: Sequence[AlertSink] = (),
        rng: random.Random | None = None,
        spool_dir: Path | None = None,
        max_backoff: float = 60.0,
        stop: threading.Event | None = None,
        alert_backlog: bool = False,
        observer: MonitorObserver | None = None,
        freeze_gc: bool = False,
        alert_store: Store | None = None,
        alert_lease: float = DEFAULT_LEASE,
    ) -> None:
        self.store = store
        self.audit = audit
        self.clock = clock
        self.stop = stop or threading.Event()
        # Waiting on the stop event makes SIGTERM end an idle wait or a backoff at once.
        self.sleep: Callable[[float], None] = sleep or self._wait
        self.worker = (worker or default_worker_id()).replace("/", "_")
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.sinks = tuple(sinks)
        self.rng = rng or random.Random()
        self.spool_dir = spool_dir
        self.max_backoff = max_backoff
        self.stats = MonitorStats()
        # A channel seen for the first time starts with the next event, not the
        # whole history (unless alert_backlog); known channels resume where they were.
        self.alert_backlog = alert_backlog
        self.observer = observer
        self._channels_open = False
        # A monitor process: what is alive when it starts (modules, the dataset tables,
        # the resolver) lives as long as the process. gc.freeze() takes it out of the
        # collector's sight, so a full collection walks only what the checks made:
        # ~5% of a worker's CPU per check (bench/monitor.py). Set by the CLI, not by
        # default (it is process-wide, and a library should not do it unasked).
        self._freeze_gc = freeze_gc
        self._pending: list[_Pending] = []
        self._spooled: list[Path] = []
        # One connection holds one transaction at a time: the checking path (main thread,
        # committer thread) and a sender sharing the store take turns; a sender with
        # its own ``alert_store`` needs no turn.
        self._store_lock = threading.RLock()
        self.alert_store = alert_store
        self.alert_lease = alert_lease
        self._sender: AlertSender | None = None
        self._load_spool()

    def _wait(self, seconds: float) -> None:
        self.stop.wait(seconds)

    # ------------------------------------------------------------------ the loop

    def run_once(self) -> MonitorStats:
        """Check everything due now (cron form), then return. Stops early on ``stop``.

        Returns the figures of this call.
        """
        self.stats = MonitorStats()
        with self._guarded():
            self._start()
            self._drain(now_limit=self.clock())
            self.flush()
            self._observe_schedule(force=True)
        return self.stats

    def run_forever(self, idle_poll: float = 30.0) -> MonitorStats:
        """Check targets as they fall due until ``stop`` is set (SIGINT/SIGTERM)."""
        self.stats = MonitorStats()
        with self._guarded():
            self._start()
            while not self.stop.is_set():
                if self._drain(now_limit=None):
                    continue
                if self.stop.is_set():
                    break
                self._observe_schedule(force=False)
                due = self._store_call(self.store.next_due)
                wait = idle_poll if due is None else min(idle_poll, max(0.0, due - self.clock()))
                if wait > 0:
                    self.sleep(wait)
            self.flush()
        return self.stats

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        """Whatever fails, and in whatever order, every checked batch is committed or
        spooled: a stop while the database is away (a claim or a read that gave up)
        ends the run normally, with what was checked spooled; anything else is spooled
        and raised."""
        try:
            yield
        except StoreTransientError as err:
            if not self.stop.is_set():
                self._spool_pending()
                raise
            log.warning("monitor: stopping while the database is unavailable: %s", err)
            self._spool_pending()
        except BaseException:
            self._spool_pending()
            raise
        finally:
            self._stop_sender()

    def _spool_pending(self) -> None:
        if self._pending:
            self._write_spool()

    def _claim(self, now_limit: float | None) -> tuple[str, list[WatchTarget]]:
        now = self.clock()
        owner = f"{self.worker}/{uuid.uuid4().hex[:12]}"
        claimed = self._store_call(
            lambda: self.store.claim_due(
                owner,
                now if now_limit is None else min(now, now_limit),
                self.batch_size,
                self.lease_seconds,
            )
        )
        return owner, claimed

    def tick(self, now_limit: float | None = None) -> int:
        """Claim one batch of due targets, check it, commit it. Returns targets checked."""
        self.flush()
        if self._pending:  # the database is still away: do not pile up more work
            return 0
        owner, claimed = self._claim(now_limit)
        if not claimed:
            return 0
        self._pending.append(self._check(owner, claimed))
        self.flush()
        return len(claimed)

    def _drain(self, now_limit: float | None) -> int:
        """Check due batches until none is left (or ``stop``); returns targets checked.

        Committing batch k runs in a helper thread while batch k+1 is being resolved, so
        storage hides behind network waits. The database is still used by one thread at
        a time: the next claim waits for the previous commit.
        """
        self.flush()
        if self._pending:
            return 0
        checked = 0
        owner, claimed = self._claim(now_limit)
        if not claimed:
            return 0
        with ThreadPoolExecutor(1, thread_name_prefix="residency-commit") as committer:
            committing: Future[bool] | None = None
            while claimed:
                pending = self._check(owner, claimed)
                checked += len(claimed)
                if committing is not None:
                    committing.result()
                self._pending.append(pending)
                if self.stop.is_set() or len(self._pending) > 1:
                    claimed = []  # stopping, or the database is away: no new work
                else:
                    owner, claimed = self._claim(now_limit)
                committing = committer.submit(self.flush)
            if committing is not None:
                committing.result()
        return checked

    # ------------------------------------------------------------------ checking

    def _check(self, owner: str, claimed: Sequence[WatchTarget]) -> _Pending:
        started = time.perf_counter()
        failed_before = self.stats.failed
        pending = self._check_groups(owner, claimed)
        if self.observer is not None:
            self.observer.batch_checked(
                claimed,
                pending.results,
                self.stats.failed - failed_before,
                time.perf_counter() - started,
            )
        return pending

    def _check_groups(self, owner: str, claimed: Sequence[WatchTarget]) -> _Pending:
        groups: dict[tuple[str | None, str | None], list[WatchTarget]] = {}
        for target in claimed:
            groups.setdefault((target.policy, target.vantage), []).append(target)
        completions: list[Completion] = []
        results: list[AuditResult] = []
        for (policy, vantage), targets in groups.items():
            batch = Batch(
                endpoints=tuple(
                    Endpoint(
                        host=t.host,
                        display=t.display,
                        origin=f"watch #{t.id}",
                        is_ip=_is_ip(t.host),
                    )
                    for t in targets
                ),
                policy=policy,
                vantage=vantage,
            )
            try:
                result = self.audit(batch)
            except Exception as err:  # the audit is pluggable: any failure is per-batch
                log.warning(
                    "monitor: checking %d target(s) failed: %s: %s",
                    len(targets),
                    type(err).__name__,
                    err,
                )
                checked_at = self.clock()
                completions += [
                    Completion(t.id, next_check(t, None, checked_at, self.rng), checked_at, None)
                    for t in targets
                ]
                self.stats.failed += len(targets)
                continue
            checked_at = self.clock()
            by_host = {r.endpoint.host: r for r in result.endpoints}
            for t in targets:
                completions.append(
                    Completion(
                        t.id,
                        next_check(t, by_host.get(t.host), checked_at, self.rng),
                        checked_at,
                        result.run_id,
                    )
                )
            results.append(result)
            self.stats.checked += len(targets)
        self.stats.batches += 1
        return _Pending(owner, completions, results)

    # ------------------------------------------------------------------ committing

    def flush(self) -> bool:
        """Commit buffered batches, retrying with backoff while the database is away.

        Returns True when nothing is left buffered. Gives up (keeping the buffer) only
        when ``stop`` is set; the buffer is then spooled to disk if a spool is set.
        """
        attempt = 0
        while self._pending:
            pending = self._pending[0]
            try:
                with self._store_lock:
                    outcome = self.store.complete_batch(
                        pending.owner, pending.completions, pending.results
                    )
            except StorePermanentError:
                # Read-only, corrupt, too new: waiting cannot fix it. Keep what was checked
                # (spool) and let the caller report the one line and stop.
                self._write_spool()
                raise
            except StoreTransientError as err:
                if self.stop.is_set():
                    self._write_spool()
                    return False
                attempt += 1
                self.stats.store_retries += 1
                delay = backoff_delay(attempt, self.max_backoff, self.rng)
                log.warning(
                    "monitor: %s; %d batch(es) buffered, retrying in %.1fs",
                    err,
                    len(self._pending),
                    delay,
                )
                self.sleep(delay)
                self._reconnect()
                continue
            self._pending.pop(0)
            attempt = 0
            log.info(
                "monitor: batch of %d committed: %d changed, %d drift event(s)",
                len(pending.completions),
                sum(r.changed for r in outcome.recorded),
                sum(len(r.events) for r in outcome.recorded),
            )
            for rec in outcome.recorded:
                if not rec.inserted:
                    self.stats.replayed += 1
                self.stats.changed += rec.changed
                self.stats.events += len(rec.events)
            self.stats.lost_leases += len(outcome.lost_leases)
            if self.observer is not None:
                self.observer.batch_committed(outcome)
            if outcome.lost_leases:
                log.warning(
                    "monitor: %d target(s) were taken over by another worker while this one "
                    "checked them; their observations are kept",
                    len(outcome.lost_leases),
                )
            self._clear_spool()
            self._alert()
            self._observe_schedule(force=False)
        return True

    def _observe_schedule(self, force: bool) -> None:
        """Give the observer the target list now and then (it reads the whole schedule).
        Runs where the store is ours: after a commit, or at the end of a run."""
        if self.observer is None or not (force or self.observer.wants_schedule()):
            return
        try:
            with self._store_lock:
                targets = self.store.list_targets()
        except StoreError as err:
            log.warning("monitor: schedule metrics postponed: %s", err)
            return
        self.observer.targets_seen(targets, force)

    def _reconnect(self) -> None:
        try:
            with self._store_lock:
                self.store.backend.reconnect()
        except StoreError as err:
            log.warning("monitor: reconnecting failed: %s", err)

    def _store_call(self, call: Callable[[], _T]) -> _T:
        """Run a store read/claim, retrying with backoff while the database is away."""
        attempt = 0
        while True:
            try:
                with self._store_lock:
                    return call()
            except StoreTransientError as err:  # permanent errors propagate at once
                if self.stop.is_set():
                    raise
                attempt += 1
                self.stats.store_retries += 1
                delay = backoff_delay(attempt, self.max_backoff, self.rng)
                log.warning("monitor: %s; retrying in %.1fs", err, delay)
                self.sleep(delay)
                self._reconnect()

    def _start(self) -> None:
        if self._freeze_gc:
            self._freeze_gc = False
            gc.freeze()
        self._open_channels()

    def _open_channels(self) -> None:
        if self._channels_open or not self.sinks:
            return
        for sink in self.sinks:
            self._store_call(
                partial(self.store.open_alert_channel, sink.channel, self.alert_backlog)
            )
        self._channels_open = True
        own_store = self.alert_store is not None
        self._sender = AlertSender(
            self.alert_store or self.store,
            self.sinks,
            clock=self.clock,
            stop=self.stop,
            worker=self.worker,
            lease=self.alert_lease,
            lock=None if own_store else self._store_lock,
            rng=self.rng,
            on_sent=self._alerts_sent,
        )
        self._sender.start()
        self._alert()  # what a previous run recorded but could not deliver

    def _alert(self) -> None:
        """Tell the sender there is news; it never runs on the checking path."""
        if self._sender is not None:
            self._sender.wake()

    def _alerts_sent(self, sent: dict[str, int]) -> None:
        for channel, count in sent.items():
            self.stats.alerts[channel] = self.stats.alerts.get(channel, 0) + count
        if self.observer is not None:
            self.observer.alerts_sent(sent)

    def _stop_sender(self) -> None:
        """The cron form delivers what it recorded before returning; a stop (SIGTERM)
        leaves it queued for the next sender."""
        if self._sender is not None:
            self._sender.close(drain=not self.stop.is_set())
            self._sender = None
            self._channels_open = False

    # ------------------------------------------------------------------ spool

    def _spool_path(self) -> Path | None:
        if self.spool_dir is None:
            return None
        return self.spool_dir / f"pending-{self.worker.replace(':', '_')}.json"

    def _write_spool(self) -> None:
        path = self._spool_path()
        if path is None:
            log.error(
                "monitor: database unavailable at shutdown; %d checked batch(es) not stored",
                len(self._pending),
            )
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        data = [
            {
                "owner": p.owner,
                "completions": [to_jsonable(c) for c in p.completions],
                "results": [to_jsonable(r) for r in p.results],
            }
            for p in self._pending
        ]
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(data))
            os.replace(tmp, path)
        except OSError as err:  # the spool's disk is full too: say what is lost
            log.error(
                "monitor: %d checked batch(es) could not be spooled to %s: %s",
                len(self._pending),
                path,
                err.strerror or err,
            )
            return
        log.warning("monitor: %d batch(es) spooled to %s", len(self._pending), path)

    def _load_spool(self) -> None:
        """Take over every spooled file: a restarted worker has a new pid, and replaying
        another worker's batches is harmless (a stored run id is never stored again)."""
        if self.spool_dir is None or not self.spool_dir.is_dir():
            return
        for path in sorted(self.spool_dir.glob("pending-*.json")):
            try:
                data = json.loads(path.read_text())
                self._pending += [
                    _Pending(
                        item["owner"],
                        [from_jsonable(Completion, c) for c in item["completions"]],
                        [from_jsonable(AuditResult, r) for r in item["results"]],
                    )
                    for item in data
                ]
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise StoreCorrupt(f"monitor spool {path} cannot be read: {err}") from err
            self._spooled.append(path)

    def _clear_spool(self) -> None:
        if self._pending:
            return
        own = self._spool_path()
        for path in [*self._spooled, *([own] if own else [])]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._spooled = []


def install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set ``stop`` (the batch in hand is finished and committed).

    Returns a function that restores the previous handlers.
    """
    previous = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        log.warning(
            "monitor: %s received, finishing the current batch", signal.Signals(signum).name
        )
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
