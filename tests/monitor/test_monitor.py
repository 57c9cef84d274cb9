"""The monitor with a simulated clock and a fake audit: scheduling, drift, resilience."""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from residency.drift import DriftEvent
from residency.model import Verdict
from residency.monitor.alerts import AlertSink
from residency.monitor.loop import Monitor, install_signal_handlers
from residency.monitor.schedule import next_check
from residency.store import (
    Store,
    StoreReadOnly,
    StoreUnavailable,
    TargetSpec,
    WatchTarget,
    open_store,
)
from tests.monitor.fakes import FakeAudit, FakeClock
from tests.store.builders import Addr, Host, endpoint_result


class RecordingSink(AlertSink):
    channel = "test"

    def __init__(self) -> None:
        self.sent: list[DriftEvent] = []

    def send(self, events: Sequence[DriftEvent]) -> None:
        self.sent.extend(events)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "h.sqlite3"))
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def target(**kw: object) -> WatchTarget:
    values: dict[str, object] = dict(
        id=1,
        host="a.example",
        display="a.example",
        vantage=None,
        policy=None,
        cadence=None,
        min_interval=300.0,
        max_interval=86400.0,
        jitter=0.0,
        source="watch",
        next_due=0.0,
        last_checked=None,
        checks=0,
    )
    values.update(kw)
    return WatchTarget(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ttl", "cadence", "expected"),
    [(30, None, 300.0), (1000, None, 1000.0), (10**7, None, 86400.0), (30, 3600.0, 3600.0)],
)
def test_next_check_ttl_clamped_or_cadence(
    ttl: int, cadence: float | None, expected: float
) -> None:
    result = endpoint_result(Host("a.example", (Addr("192.0.2.1"),), ttl=ttl), "2026-01-01")
    assert next_check(target(cadence=cadence), result, 100.0, random.Random(1)) == 100.0 + expected


def test_next_check_failure_uses_min_interval_and_jitter_stays_in_bounds() -> None:
    assert next_check(target(), None, 0.0, random.Random(1)) == 300.0
    rng = random.Random(7)
    dues = {next_check(target(jitter=0.2, cadence=1000.0), None, 0.0, rng) for _ in range(200)}
    assert len(dues) > 100 and min(dues) >= 800.0 and max(dues) <= 1200.0


def test_run_once_checks_due_targets_once_and_reschedules(store: Store, clock: FakeClock) -> None:
    audit = FakeAudit(clock, {"a.example": Host("a.example", (Addr("192.0.2.1"),), ttl=600)})
    store.add_targets(
        [TargetSpec("a.example", jitter=0), TargetSpec("b.example", jitter=0)], clock()
    )
    store.add_targets([TargetSpec("later.example", jitter=0)], clock() + 50)
    monitor = Monitor(store, audit, clock=clock, batch_size=1, rng=random.Random(0))
    stats = monitor.run_once()
    assert sorted(audit.calls) == ["a.example", "b.example"]
    assert stats.checked == 2 and stats.batches == 2
    due = {t.host: t.next_due - clock() for t in store.list_targets()}
    assert due == {"a.example": 600.0, "b.example": 300.0, "later.example": 50.0}
    clock.advance(600)
    audit.calls.clear()
    Monitor(store, audit, clock=clock).run_once()
    assert sorted(audit.calls) == ["a.example", "b.example", "later.example"]
    timeline = store.history("a.example")
    assert len(timeline.spans) == 1 and timeline.spans[0].checks == 2


def test_drift_is_recorded_and_alerted_once(store: Store, clock: FakeClock) -> None:
    host = "pay.example"
    audit = FakeAudit(clock, {host: Host(host, (Addr("192.0.2.1"),), verdict=Verdict.PASS)})
    store.add_targets([TargetSpec(host, cadence=60, jitter=0)], clock())
    sink = RecordingSink()
    monitor = Monitor(store, audit, clock=clock, sinks=[sink])
    monitor.run_once()
    audit.world[host] = Host(host, (Addr("203.0.113.5", country="US"),), verdict=Verdict.FAIL)
    clock.advance(60)
    changed = monitor.run_once()
    assert changed.alerts == {"test": 3} and changed.events == 3
    for _ in range(2):
        clock.advance(60)
        assert monitor.run_once().alerts == {"test": 0}
    kinds = sorted(e.kind.value for e in sink.sent)
    assert kinds == ["address-appeared", "address-disappeared", "verdict-changed"]
    # A second monitor (a restart) does not send them again.
    again = RecordingSink()
    Monitor(store, audit, clock=clock, sinks=[again]).run_once()
    assert again.sent == []


def test_audit_failure_retries_after_min_interval(store: Store, clock: FakeClock) -> None:
    audit = FakeAudit(clock, fail_hosts={"bad.example"})
    store.add_targets([TargetSpec("bad.example", min_interval=120, jitter=0)], clock())
    stats = Monitor(store, audit, clock=clock).run_once()
    assert stats.failed == 1 and stats.checked == 0
    (t,) = store.list_targets()
    assert t.next_due == clock() + 120 and t.checks == 0 and store.run_count() == 0


def test_lost_database_is_retried_with_backoff_and_nothing_lost(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = FakeAudit(clock, {"a.example": Host("a.example", (Addr("192.0.2.1"),))})
    store.add_targets([TargetSpec("a.example")], clock())
    real = store.complete_batch
    failures = iter([True, True, True])

    def flaky(*args: object, **kw: object) -> object:
        if next(failures, False):
            raise StoreUnavailable("history database x unreachable: server closed the connection")
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "complete_batch", flaky)
    monkeypatch.setattr(store.backend, "reconnect", lambda: None)
    sleeps: list[float] = []
    monitor = Monitor(store, audit, clock=clock, sleep=sleeps.append, rng=random.Random(3))
    stats = monitor.run_once()
    assert len(sleeps) == 3 and sleeps[0] < sleeps[2]
    assert stats.store_retries == 3 and stats.checked == 1
    assert len(store.history("a.example").spans) == 1


def test_stop_during_outage_spools_and_next_start_commits(
    store: Store, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = FakeAudit(clock, {"a.example": Host("a.example", (Addr("192.0.2.1"),))})
    store.add_targets([TargetSpec("a.example")], clock())
    stop = threading.Event()
    real = store.complete_batch

    def down(*args: object, **kw: object) -> object:
        stop.set()  # SIGTERM arrives while the database is away
        raise StoreUnavailable("history database x unreachable")

    monkeypatch.setattr(store, "complete_batch", down)
    monkeypatch.setattr(store.backend, "reconnect", lambda: None)
    spool = tmp_path / "spool"
    first = Monitor(store, audit, clock=clock, worker="w1", spool_dir=spool, stop=stop)
    first.run_once()
    assert list(spool.iterdir()) and store.run_count() == 0
    monkeypatch.setattr(store, "complete_batch", real)
    second = Monitor(store, audit, clock=clock, worker="w1-restarted", spool_dir=spool)
    assert second.flush()
    assert store.run_count() == 1 and not list(spool.iterdir())
    assert store.history("a.example").spans[0].checks == 1


def test_run_forever_waits_for_next_due_and_stops(store: Store, clock: FakeClock) -> None:
    audit = FakeAudit(clock, {"a.example": Host("a.example", (Addr("192.0.2.1"),))})
    store.add_targets([TargetSpec("a.example", cadence=100, jitter=0)], clock())
    stop = threading.Event()
    waits: list[float] = []

    def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)
        if len(waits) == 3:
            stop.set()

    Monitor(store, audit, clock=clock, sleep=fake_sleep, stop=stop).run_forever(idle_poll=30)
    assert waits == [30.0, 30.0, 30.0]
    assert audit.calls == ["a.example"]
    stop.clear()
    waits.clear()
    Monitor(store, audit, clock=clock, sleep=fake_sleep, stop=stop).run_forever(idle_poll=500)
    assert waits == pytest.approx([10.0, 100.0, 100.0])  # due at +100, 90 s already spent
    assert audit.calls == ["a.example"] * 3


def test_signal_sets_stop() -> None:
    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(2)
    finally:
        restore()


def test_a_new_alert_channel_starts_from_now_unless_backlog(store: Store, clock: FakeClock) -> None:
    host = "pay.example"
    audit = FakeAudit(clock, {host: Host(host, (Addr("192.0.2.1"),))})
    store.add_targets([TargetSpec(host, cadence=60, jitter=0)], clock())
    Monitor(store, audit, clock=clock).run_once()
    audit.world[host] = Host(host, (Addr("192.0.2.2"),))
    clock.advance(60)
    Monitor(store, audit, clock=clock).run_once()  # two events, no sink yet
    late = RecordingSink()
    Monitor(store, audit, clock=clock, sinks=[late]).run_once()
    assert late.sent == []
    backlog = RecordingSink()
    backlog.channel = "backlog"
    Monitor(store, audit, clock=clock, sinks=[backlog], alert_backlog=True).run_once()
    assert sorted(e.kind.value for e in backlog.sent) == [
        "address-appeared",
        "address-disappeared",
    ]
    # The new channel does get what happens from now on.
    audit.world[host] = Host(host, (Addr("192.0.2.3"),))
    clock.advance(60)
    Monitor(store, audit, clock=clock, sinks=[late]).run_once()
    assert len(late.sent) == 2


def test_read_only_store_stops_at_once_instead_of_backing_off(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "ro.sqlite3"
    writable = open_store(str(path))
    writable.add_targets([TargetSpec("a.example", jitter=0)], clock())
    writable.close()
    store = open_store(f"sqlite:///{path}?mode=ro")
    slept: list[float] = []
    audit = FakeAudit(clock, {"a.example": Host("a.example", (Addr("192.0.2.1"),))})
    try:
        with pytest.raises(StoreReadOnly):
            Monitor(store, audit, clock=clock, sleep=slept.append).run_once()
    finally:
        store.close()
    assert slept == [] and audit.calls == []  # no retry loop, nothing checked for nothing


def test_permanent_error_at_commit_spools_the_checked_batch(
    store: Store, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = FakeAudit(clock, {"a.example": Host("a.example", (Addr("192.0.2.1"),))})
    store.add_targets([TargetSpec("a.example", jitter=0)], clock())

    def read_only(*args: object, **kwargs: object) -> None:
        raise StoreReadOnly("history database h.sqlite3 is read-only (test)")

    monkeypatch.setattr(store, "complete_batch", read_only)
    slept: list[float] = []
    spool = tmp_path / "spool"
    monitor = Monitor(store, audit, clock=clock, sleep=slept.append, spool_dir=spool)
    with pytest.raises(StoreReadOnly):
        monitor.run_once()
    assert slept == [] and audit.calls == ["a.example"]
    assert len(list(spool.glob("pending-*.json"))) == 1  # what was checked is kept


def test_min_ttl_has_one_meaning_for_an_answer_and_for_the_schedule() -> None:
    """An address TTL shorter than the chain's counts in both (model and monitor)."""
    from residency.model import (
        ChainStep,
        Endpoint,
        EndpointResult,
        Outcome,
        Resolution,
        ResolvedAddress,
    )
    from residency.monitor.schedule import min_ttl

    res = Resolution(
        name="a.test",
        outcome=Outcome.RESOLVED,
        chain=(ChainStep("a.test", "CNAME", "b.test", 300),),
        addresses=(ResolvedAddress("192.0.2.1", 20, "b.test"),),
    )
    assert res.min_ttl == 20
    assert min_ttl(EndpointResult(Endpoint("a.test", "a.test"), (res,), ())) == 20


def test_backoff_doubles_to_the_cap_with_jitter() -> None:
    from residency.monitor.schedule import backoff_delay

    rng = random.Random(3)
    delays = [backoff_delay(n, 60.0, rng) for n in range(1, 12)]
    assert all(
        0.5 * min(60.0, 0.5 * 2**n) <= d <= min(60.0, 0.5 * 2**n)
        for n, d in zip(range(1, 12), delays, strict=True)
    )
    assert max(delays) <= 60.0


def test_freeze_gc_freezes_what_is_alive_at_start_once_and_only_when_asked(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    frozen: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(1))
    audit = FakeAudit(clock, {"a.example": Host("a.example", (Addr("192.0.2.1"),))})
    store.add_targets([TargetSpec("a.example", jitter=0)], clock())
    Monitor(store, audit, clock=clock).run_once()
    assert frozen == []  # the default: the process's collector is not the library's
    monitor = Monitor(store, audit, clock=clock, freeze_gc=True)
    monitor.run_once()
    clock.advance(600)
    stats = monitor.run_once()
    assert frozen == [1] and stats.checked == 1
