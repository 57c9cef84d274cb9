"""Crash test: kill -9 a monitor mid-run; after restart nothing is lost or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from residency.store import Store, TargetSpec, open_store
from tests.integration.pg import pg_url, postgres_server  # noqa: F401 - fixtures
from tests.support import REPO

pytestmark = pytest.mark.integration

N_TARGETS = 60
NOW = 1_000_000.0
CADENCE = 3600.0
LEASE = 60.0


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite3")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    yield opened
    opened.close()


def worker(
    db: str, now: float, name: str, log: Path, delay: float = 0.0, barrier: str | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.monitor.worker",
            db,
            "--now",
            str(now),
            "--worker",
            name,
            "--log",
            str(log),
            "--delay",
            str(delay),
            "--lease",
            str(LEASE),
            *(["--barrier", barrier] if barrier else []),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def committed_runs(store: Store) -> int:
    return store.run_count()


def test_kill_9_then_restart_loses_and_duplicates_nothing(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    store.add_targets(
        [TargetSpec(f"h{i}.example", cadence=CADENCE, jitter=0) for i in range(N_TARGETS)], NOW
    )
    log = tmp_path / "audited.log"
    proc = worker(db_url, NOW, "w1", log, delay=0.15)
    deadline = time.monotonic() + 60
    # Kill once some batches are committed and another one is being checked.
    while committed_runs(store) < 3 or not log.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "worker made no progress"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = committed_runs(store)
    assert 0 < done_before * 5 < N_TARGETS

    # Restart after the dead worker's lease ran out: its claimed batch is due again.
    proc2 = worker(db_url, NOW + LEASE + 1, "w2", tmp_path / "audited2.log")
    _out, err = proc2.communicate(timeout=120)
    assert proc2.returncode == 0, err

    targets = store.list_targets()
    assert [t.checks for t in targets] == [1] * N_TARGETS
    assert all(t.next_due == pytest.approx(t.last_checked + CADENCE) for t in targets)  # type: ignore[operator]
    runs = store.runs(limit=1000)
    assert sum(r.endpoint_count for r in runs) == N_TARGETS
    with store.backend.transaction(write=False) as tx:
        states = tx.execute("SELECT COUNT(*), SUM(checks) FROM endpoint_state").one()
        observations = tx.execute("SELECT COUNT(*) FROM observation").scalar()
    assert states is not None and (int(states[0]), int(states[1])) == (N_TARGETS, N_TARGETS)
    assert int(observations) == N_TARGETS
