"""Concurrency: three monitor processes share one PostgreSQL; each due target is done once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from residency.store import TargetSpec, open_store
from tests.integration.pg import pg_url, postgres_server  # noqa: F401 - fixtures
from tests.integration.test_monitor_crash import worker

pytestmark = pytest.mark.integration

N_TARGETS = 150
NOW = 2_000_000.0


def test_three_workers_share_the_work_exactly_once(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    store = open_store(pg_url)
    try:
        store.add_targets(
            [TargetSpec(f"h{i}.example", cadence=3600, jitter=0) for i in range(N_TARGETS)], NOW
        )
        # Not due yet: must be left alone by every worker.
        store.add_targets([TargetSpec("future.example", cadence=3600)], NOW + 10)
        logs = [tmp_path / f"w{i}.log" for i in range(3)]
        barrier = tmp_path / "ready"
        barrier.mkdir()
        procs = [
            worker(pg_url, NOW, f"w{i}", logs[i], delay=0.01, barrier=f"{barrier}:3")
            for i in range(3)
        ]
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err

        audited = Counter(line for log in logs for line in log.read_text().split())
        assert set(audited) == {f"h{i}.example" for i in range(N_TARGETS)}
        assert set(audited.values()) == {1}, "a target was checked twice"
        per_worker = [len(log.read_text().split()) for log in logs]
        assert all(n > 0 for n in per_worker), f"a worker got nothing: {per_worker}"

        targets = {t.host: t for t in store.list_targets()}
        assert targets["future.example"].checks == 0
        assert all(targets[f"h{i}.example"].checks == 1 for i in range(N_TARGETS))
        assert sum(r.endpoint_count for r in store.runs(limit=1000)) == N_TARGETS
        assert {r.worker for r in store.runs(limit=1000)} == {"w0", "w1", "w2"}
    finally:
        store.close()
