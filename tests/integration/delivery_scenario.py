"""Alert delivery under concurrency: several monitor workers (processes) share one
database, every check is drift, some workers are killed with SIGKILL, and a local
webhook receiver counts what arrives. Used by the test and by ``bench/monitor_delivery.py``.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from residency.store import TargetSpec, open_store
from tests.integration.webhook import Receiver
from tests.support import REPO

START = 1_000_000.0
ROUND = 3600.0  # simulated time between rounds: every target is due again


@dataclass(frozen=True)
class DeliveryFigures:
    produced: int  # drift events in the database
    received: int  # distinct events the receiver got
    lost: int  # produced, never received
    duplicates: int  # extra copies received
    posts: int
    kills: int

    def line(self) -> str:
        return (
            f"{self.produced} produced, {self.received} received, {self.lost} lost, "
            f"{self.duplicates} duplicate(s), {self.posts} POST(s), {self.kills} kill -9"
        )


#: Seconds each batch takes in a worker: short, and long enough in a round where a worker
#: is killed that every worker is still running when the kill lands (at most 1 s after
#: the barrier; each worker checks about 6 batches), however fast the machine is.
BATCH_DELAY, KILL_ROUND_BATCH_DELAY = 0.01, 0.4


def _worker(
    db: str, now: float, name: str, log: Path, url: str, barrier: str, delay: float = BATCH_DELAY
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
            "--batch-size",
            "5",
            "--lease",
            "60",
            "--webhook",
            url,
            "--flip",
            "--barrier",
            barrier,
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_delivery_scenario(
    db: str,
    *,
    targets: int = 120,
    rounds: int = 6,
    workers: int = 3,
    kill_rounds: frozenset[int] = frozenset(),
    seed: int = 7,
) -> DeliveryFigures:
    """``rounds`` passes over ``targets`` hosts by ``workers`` processes; in each round of
    ``kill_rounds`` one worker is killed with SIGKILL mid-run. A last pass (nothing due)
    delivers what is left. Returns the receiver's count against the database's."""
    rng = random.Random(seed)
    store = open_store(db)
    try:
        store.add_targets(
            [TargetSpec(f"h{i}.example", cadence=ROUND, jitter=0) for i in range(targets)], START
        )
    finally:
        store.close()
    kills = 0
    with Receiver() as receiver, tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp, "audited.log")
        for r in range(rounds):
            now = START + r * ROUND
            barrier = Path(tmp, f"barrier-{r}")
            barrier.mkdir()
            procs = [
                _worker(
                    db,
                    now,
                    f"w{k}",
                    log,
                    receiver.url,
                    f"{barrier}:{workers}",
                    KILL_ROUND_BATCH_DELAY if r in kill_rounds else BATCH_DELAY,
                )
                for k in range(workers)
            ]
            if r in kill_rounds:
                # Kill only once every worker is past the barrier (else the others wait).
                deadline = time.monotonic() + 120
                while len(list(barrier.iterdir())) < workers and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.2, 1.0))
                victim = procs[rng.randrange(workers)]
                if victim.poll() is None:
                    victim.send_signal(signal.SIGKILL)
                    kills += 1
            for proc in procs:
                _, err = proc.communicate(timeout=300)
                if proc.returncode not in (0, -signal.SIGKILL):
                    raise RuntimeError(f"worker failed ({proc.returncode}): {err[-2000:]}")
        # Nothing is due half a round later; claims of killed workers have expired.
        barrier = Path(tmp, "barrier-last")
        barrier.mkdir()
        last = _worker(
            db, START + (rounds - 0.5) * ROUND, "drain", log, receiver.url, f"{barrier}:1"
        )
        _, err = last.communicate(timeout=300)
        if last.returncode != 0:
            raise RuntimeError(f"last worker failed ({last.returncode}): {err[-2000:]}")
        store = open_store(db)
        try:
            with store.backend.transaction(write=False) as tx:
                produced = {int(r[0]) for r in tx.query("SELECT id FROM drift_event")}
        finally:
            store.close()
        tally = receiver.tally
        received = set(tally.events) & produced
        return DeliveryFigures(
            produced=len(produced),
            received=len(received),
            lost=len(produced - received),
            duplicates=sum(tally.events.values()) - len(tally.events),
            posts=tally.posts,
            kills=kills,
        )
