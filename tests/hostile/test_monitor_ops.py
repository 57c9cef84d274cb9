"""Hostile operations setup for the monitor: a metrics port in use, a bad metrics file, a
webhook that answers 500 or hangs. Each is one clear line and exit 2 before any work, or
(for webhooks) retried without blocking the monitor."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.runner import Run, assert_clean_failure, run_cli


def one_line(run: Run, *words: str) -> str:
    lines = run.error_lines()
    assert len(lines) == 1, run.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def targets(tmp_path: Path) -> Path:
    path = tmp_path / "targets.txt"
    path.write_text("192.0.2.1\n")
    return path


def test_metrics_port_in_use_fails_before_any_work(tmp_path: Path, targets: Path) -> None:
    db = tmp_path / "history.sqlite3"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_cli(
            "monitor",
            "--once",
            "--targets",
            str(targets),
            "--db",
            str(db),
            "--metrics",
            f"127.0.0.1:{port}",
            timeout=30,
        )
    assert_clean_failure(run, code=2)
    one_line(run, f"127.0.0.1:{port}", "cannot listen")
    assert not db.exists()  # no store opened, nothing checked


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("9464", ("'9464'", "ADDR:PORT")),
        ("127.0.0.1:70000", ("70000", "1..65535")),
        ("metrics.example:9464", ("metrics.example", "not an IP address")),
    ],
)
def test_bad_metrics_address(
    tmp_path: Path, targets: Path, value: str, words: tuple[str, ...]
) -> None:
    db = tmp_path / "history.sqlite3"
    run = run_cli(
        "monitor", "--once", "--targets", str(targets), "--db", str(db), "--metrics", value
    )
    assert_clean_failure(run, code=2)
    one_line(run, "--metrics", *words)
    assert not db.exists()


def test_metrics_file_in_missing_folder(tmp_path: Path, targets: Path) -> None:
    db = tmp_path / "history.sqlite3"
    path = tmp_path / "no-such-folder" / "residency.prom"
    run = run_cli(
        "monitor", "--once", "--targets", str(targets), "--db", str(db), "--metrics-file", str(path)
    )
    assert_clean_failure(run, code=2)
    one_line(run, str(path), "does not exist")
    assert not db.exists()


class _Hanging(http.server.BaseHTTPRequestHandler):
    """Reads the request, then never answers (until the test ends)."""

    release = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.release.wait(30)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hanging_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hanging)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    _Hanging.release.set()
    server.shutdown()
    server.server_close()


def test_hanging_alertmanager_webhook_is_bounded(hanging_server: str) -> None:
    """The sink gives up after its attempts, each bounded by the client timeout."""
    import httpx

    from residency.drift import DriftEvent, DriftKind
    from residency.monitor.alert_formats import AlertmanagerFormat
    from residency.monitor.alerts import AlertError, WebhookSink

    event = DriftEvent(
        1, "a.example", "a.example", "r1", "2026-01-01T00:00:00+00:00",
        DriftKind.ADDRESS_APPEARED, "192.0.2.1", None, "US", "address 192.0.2.1 appeared: US",
    )  # fmt: skip
    sleeps: list[float] = []
    with httpx.Client(timeout=0.3) as client:
        sink = WebhookSink(
            hanging_server,
            client,
            attempts=3,
            sleep=sleeps.append,
            payload_format=AlertmanagerFormat(lambda e: []),
        )
        started = time.monotonic()
        with pytest.raises(AlertError, match="not delivered"):
            sink.send([event])
    assert time.monotonic() - started < 5
    assert len(sleeps) == 2  # retried with backoff
