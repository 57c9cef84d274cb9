"""A webhook cannot stop the monitor (issue 18, item 16): with a receiver that drips its
status line, stalls, answers slowly or refuses connections, checking goes on, SIGTERM
ends the process, and no event is answered for more than once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from residency.store import TargetSpec, open_store
from tests.integration.webhook import Receiver, closed_port
from tests.support import REPO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TARGETS = 10


def start_worker(db: Path, log: Path, url: str, deadline: float) -> subprocess.Popen[str]:
    store = open_store(str(db))
    try:
        store.add_targets(
            [TargetSpec(f"h{i}.example", cadence=1, jitter=0) for i in range(TARGETS)],
            time.time(),
        )
    finally:
        store.close()
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.monitor.worker",
            str(db),
            "--now",
            "0",
            "--worker",
            "w",
            "--log",
            str(log),
            "--forever",
            "--webhook",
            url,
            "--alert-deadline",
            str(deadline),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def checks(log: Path) -> int:
    try:
        return len(log.read_text().splitlines())
    except FileNotFoundError:
        return 0


def wait_for(condition: object, what: str, limit: float = 60.0) -> None:
    # Polls for progress; the test asserts counts, the limit only avoids waiting for ever.
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate()  # bounded by the test's timeout: SIGTERM must end it
    assert proc.returncode == 0, err[-2000:]
    return err


@pytest.fixture
def paths(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    yield tmp_path / "h.sqlite3", tmp_path / "checked.log"


@pytest.mark.parametrize("mode", ["drip", "stall"])
def test_a_hanging_webhook_does_not_stop_checking_nor_sigterm(
    mode: str, paths: tuple[Path, Path]
) -> None:
    db, log = paths
    with Receiver(mode, delay=1.0) as receiver:
        # A deadline longer than the test: only the sender thread and SIGTERM can end it.
        proc = start_worker(db, log, receiver.url, deadline=600)
        try:
            wait_for(lambda: receiver.tally.posts >= 1, "the first alert POST")
            stalled_at = checks(log)
            wait_for(lambda: checks(log) >= stalled_at + 3 * TARGETS, "checks while stalled")
            assert receiver.tally.answered == 0  # the webhook is still hanging
        finally:
            err = stop(proc)
    assert checks(log) > stalled_at
    assert "Traceback" not in err


def test_a_refused_webhook_does_not_slow_checking(paths: tuple[Path, Path]) -> None:
    db, log = paths
    proc = start_worker(db, log, f"http://127.0.0.1:{closed_port()}/hook", deadline=5)
    try:
        wait_for(lambda: checks(log) >= 5 * TARGETS, "checks with a refused webhook")
    finally:
        err = stop(proc)
    assert "not delivered" in err  # the failure is logged, with backoff


def test_a_slow_webhook_gets_each_event_once(paths: tuple[Path, Path]) -> None:
    db, log = paths
    with Receiver("slow", delay=3.0) as receiver:
        proc = start_worker(db, log, receiver.url, deadline=10)
        try:
            wait_for(lambda: receiver.tally.answered >= 3, "three answered POSTs")
            assert checks(log) > 0
        finally:
            stop(proc)
        events = receiver.tally.events
    assert events and max(events.values()) == 1, "an event was POSTed after it was answered"
