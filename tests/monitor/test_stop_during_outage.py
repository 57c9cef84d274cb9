"""A stop (SIGTERM) while the store is locked or its disk full: every checked batch is
committed or spooled, whatever order the failures come in (issue 18, item 14)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from residency.model import AuditResult
from residency.monitor.base import Batch
from residency.monitor.loop import Monitor
from residency.store import Store, StoreUnavailable, TargetSpec, open_store
from tests.monitor.fakes import FakeAudit, FakeClock
from tests.store.builders import Addr, Host

HOSTS = [f"h{i}.example" for i in range(10)]


def locked_by_another_process(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    return other


class FullDisk:
    """Every write of the store fails as SQLite's SQLITE_FULL does (a transient error)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.full = False

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.store, name)
        if self.full and name in {"claim_due", "complete_batch", "next_due"}:

            def refuse(*args: object, **kwargs: object) -> object:
                raise StoreUnavailable("history database h.sqlite3 is unavailable (disk full)")

            return refuse
        return attr


@pytest.mark.parametrize("failure", ["locked", "full"])
def test_stop_while_the_store_fails_spools_the_checked_batch(tmp_path: Path, failure: str) -> None:
    path = tmp_path / "h.sqlite3"
    store = open_store(str(path), timeout=0.1)
    clock = FakeClock()
    store.add_targets([TargetSpec(h, cadence=60, jitter=0) for h in HOSTS], clock())
    world = {h: Host(h, (Addr("192.0.2.1"),)) for h in HOSTS}
    fake = FakeAudit(clock, world)
    stop = threading.Event()
    wrapped = FullDisk(store)
    holder: list[sqlite3.Connection] = []

    def audit(batch: Batch) -> AuditResult:
        result = fake(batch)
        # The store fails after the first batch was checked: its commit and the next
        # claim both fail, and the stop comes while they back off.
        if failure == "locked" and not holder:
            holder.append(locked_by_another_process(path))
        wrapped.full = True
        return result

    def sigterm_during_backoff(seconds: float) -> None:
        stop.set()

    spool = tmp_path / "spool"
    monitor = Monitor(
        wrapped,  # type: ignore[arg-type]
        audit,
        clock=clock,
        sleep=sigterm_during_backoff,
        batch_size=5,
        stop=stop,
        spool_dir=spool,
    )
    monitor.run_once()  # no exception: the stop ended the run, the batch is spooled
    checked = list(fake.calls)
    assert checked and list(spool.glob("pending-*.json"))
    for conn in holder:
        conn.execute("ROLLBACK")
        conn.close()
    # The store is back: the next monitor commits what the spool holds.
    stop.clear()
    Monitor(store, FakeAudit(clock, world), clock=clock, spool_dir=spool, batch_size=5).flush()
    with store.backend.transaction(write=False) as tx:
        recorded = {r[0] for r in tx.query("SELECT host FROM endpoint")}
    assert set(checked) <= recorded
    assert not list(spool.glob("pending-*.json"))
    store.close()
