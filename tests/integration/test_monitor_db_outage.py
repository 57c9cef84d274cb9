"""A monitor whose PostgreSQL server goes away mid-run retries and loses nothing."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from residency.model import AuditResult
from residency.monitor.base import Batch
from residency.monitor.loop import Monitor
from residency.store import TargetSpec, open_store
from tests.integration.pg import PgServer, start_postgres
from tests.monitor.fakes import FakeAudit, FakeClock
from tests.store.builders import Addr, Host

pytestmark = pytest.mark.integration


@pytest.fixture
def private_pg() -> Iterator[PgServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


def test_database_restart_mid_batch(private_pg: PgServer) -> None:
    url = private_pg.fresh_url()
    store = open_store(url, timeout=2)
    clock = FakeClock()
    hosts = [f"h{i}.example" for i in range(12)]
    store.add_targets([TargetSpec(h, cadence=600, jitter=0) for h in hosts], clock())
    world = {h: Host(h, (Addr(f"192.0.2.{i + 1}"),)) for i, h in enumerate(hosts)}
    fake = FakeAudit(clock, world)
    batches = 0

    def audit(batch: Batch) -> AuditResult:
        nonlocal batches
        batches += 1
        if batches == 2:
            private_pg.pause()  # the database goes away after the claim, before the commit
        return fake(batch)

    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            private_pg.resume()

    monitor = Monitor(store, audit, clock=clock, sleep=sleep, batch_size=4, rng=random.Random(1))
    stats = monitor.run_once()
    try:
        assert stats.store_retries >= 2 and len(sleeps) >= 2
        assert sleeps[1] > sleeps[0]  # the backoff grows
        assert stats.checked == len(hosts)
        targets = store.list_targets()
        assert [t.checks for t in targets] == [1] * len(hosts)
        assert sorted(fake.calls) == sorted(hosts)
        for host in hosts:
            assert len(store.history(host).spans) == 1
    finally:
        store.close()
