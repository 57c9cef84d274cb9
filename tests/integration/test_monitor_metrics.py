"""End to end: the monitor serves /metrics while it runs, and writes a textfile for cron."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from residency.cli import cli
from residency.locate.locator import Locator
from residency.store import open_store
from tests.integration.dnsserver import KnotServer, Zone, zone
from tests.locate.fixtures import imported_dataset
from tests.support import SHARED_DATA

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent"),
]

#: Address literals: checked without DNS, located by the small imported dataset.
TARGETS = "13.228.0.1\n52.66.10.20\n"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = imported_dataset(tmp_path_factory.mktemp("metrics-data"))
    Locator.load(directory)  # compile once for the module
    return directory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def checks(found: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    return sum(v for (name, _), v in found.items() if name == "residency_checks_total")


def monitor_args(tmp_path: Path, dataset: Path) -> list[str]:
    targets = tmp_path / "targets.txt"
    targets.write_text(TARGETS)
    return [
        "--targets",
        str(targets),
        "--data-dir",
        str(dataset),
        "--db",
        str(tmp_path / "history.sqlite3"),
        "--no-log-alerts",
    ]


def test_monitor_serves_metrics_while_running(tmp_path: Path, dataset: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "residency",
            "monitor",
            *monitor_args(tmp_path, dataset),
            "--metrics",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "RESIDENCY_DATA_DIR": str(dataset)},
    )
    try:
        found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and checks(found) < 2:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                found = values(response.text)
            except httpx.TransportError:
                pass  # still starting
            time.sleep(0.2)
        assert checks(found) == 2, found
        names = {name for name, _ in found}
        assert {
            "residency_info",
            "residency_dataset_info",
            "residency_dataset_age_seconds",
            "residency_targets",
            "residency_targets_due",
            "residency_schedule_lag_seconds",
            "residency_targets_by_verdict",
            "residency_batch_duration_seconds_count",
            "residency_dns_errors_total",
            "residency_rdap_errors_total",
            "residency_drift_events_total",
        } <= names
        assert found[("residency_targets", ())] == 2
        assert found[("residency_targets_by_verdict", (("policy", ""), ("verdict", "unjudged")))]
        for (_, labels), _value in found.items():
            assert not {v for _, v in labels} & set(TARGETS.split())  # no address as a label
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"Traceback" not in err


def test_monitor_once_writes_textfile(tmp_path: Path, dataset: Path) -> None:
    path = tmp_path / "textfile" / "residency.prom"
    path.parent.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "residency",
            "monitor",
            "--once",
            *monitor_args(tmp_path, dataset),
            "--metrics-file",
            str(path),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    found = values(path.read_text())
    assert checks(found) == 2
    assert found[("residency_targets_due", ())] == 0
    assert sorted(p.name for p in path.parent.iterdir()) == ["residency.prom"]


BEFORE = """
api   300 A 13.228.0.1
"""
AFTER = """
api   300 A 13.228.0.1
api   300 A 52.66.10.20
"""


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_monitor_cli_alertmanager_firing_then_resolved(
    make_dns_server: Callable[[list[Zone]], KnotServer], dataset: Path, tmp_path: Path
) -> None:
    server = make_dns_server([zone("app.test", BEFORE)])
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    targets = tmp_path / "targets.toml"
    targets.write_text(
        '[defaults]\nmin_interval = "1s"\njitter = 0\n[[target]]\nhost = "api.app.test"\n'
    )
    db = str(tmp_path / "history.sqlite3")
    common = [
        "monitor", "--once", "--targets", str(targets), "--nameserver", server.address,
        "--data-dir", str(dataset), "--db", db, "--no-log-alerts",
        "--webhook", url, "--webhook-format", "alertmanager",
    ]  # fmt: skip

    def run_due() -> None:
        store = open_store(db)
        with store.backend.transaction() as tx:
            tx.execute("UPDATE target SET next_due = 0")
        store.close()
        result = CliRunner().invoke(cli, common)
        assert result.exit_code == 0, result.stderr

    try:
        run_due()
        server.set_zone(zone("app.test", AFTER, serial=2))
        run_due()
        server.set_zone(zone("app.test", BEFORE, serial=3))
        run_due()
    finally:
        receiver.shutdown()
        receiver.server_close()
    statuses = [[a["status"] for a in b["alerts"]] for b in _Receiver.bodies]
    assert statuses == [["firing"], ["resolved"]], _Receiver.bodies
    fired, resolved = (b["alerts"][0] for b in _Receiver.bodies)
    assert fired["labels"]["ip"] == "52.66.10.20" and _Receiver.bodies[0]["version"] == "4"
    assert fired["fingerprint"] == resolved["fingerprint"]
