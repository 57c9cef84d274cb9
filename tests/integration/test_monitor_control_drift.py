"""The monitor watches control (issue 19, item 6): a name in a real Knot zone served by a
local TLS server whose certificate organisation changes between two passes. The change
is recorded once, alerted once (even with the monitor killed with SIGKILL while sending),
and shown by 'history' and 'diff'."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from residency.locate.locator import Locator
from residency.store import TargetSpec, open_store
from tests.hostile.runner import run_cli
from tests.integration.dnsserver import KnotServer, Zone, zone
from tests.integration.webhook import Receiver
from tests.locate.fixtures import imported_dataset
from tests.probe.certs import DV, OV, Authority
from tests.probe.servers import answer, tls_server
from tests.support import SHARED_DATA

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent"),
]

HOST = "api.ctl.test"
CONTROL_KINDS = {"controller-changed", "certificate-org-changed"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = imported_dataset(tmp_path_factory.mktemp("control-drift-data"))
    Locator.load(directory)
    return directory


def monitor_args(db: Path, server: KnotServer, port: int, url: str) -> list[str]:
    return [
        "monitor",
        "--once",
        "--db",
        str(db),
        "--nameserver",
        server.address,
        "--probe",
        "tls",
        "--probe-port",
        str(port),
        "--webhook",
        url,
        "--alert-timeout",
        "1s",
        "--alert-lease",
        "2s",
    ]


def control_events(db: Path) -> list[tuple[str, str | None, str | None]]:
    store = open_store(str(db))
    try:
        return [
            (e.kind.value, e.before, e.after)
            for e in store.history(HOST).events
            if e.kind.value in CONTROL_KINDS
        ]
    finally:
        store.close()


def test_certificate_organisation_change_is_drift_recorded_and_alerted_once(
    dataset: Path, tmp_path: Path, make_dns_server: Callable[[list[Zone]], KnotServer]
) -> None:
    server = make_dns_server([zone("ctl.test", "api 300 A 127.0.0.1\n")])
    ca = Authority(tmp_path)
    first = ca.leaf("first", [HOST], org="First Processing Ltd", country="IE", policy=OV)
    second = ca.leaf("second", [HOST], org="Second Holdings Inc", country="US", policy=OV)
    env = {"SSL_CERT_FILE": str(ca.pem), "RESIDENCY_DATA_DIR": str(dataset)}
    db = tmp_path / "history.sqlite3"
    store = open_store(str(db))
    try:  # 'watch add' allows 10 s at least; the library lets the test be quick
        store.add_targets([TargetSpec(HOST, cadence=1, jitter=0)], time.time())
    finally:
        store.close()

    with Receiver("stall") as receiver:
        with tls_server(first, answer("200 OK", {})) as port:
            run = run_cli(*monitor_args(db, server, port, receiver.url), env=env, timeout=120)
        assert run.code == 0 and not run.traceback, run.stderr[-2000:]
        assert control_events(db) == []  # first sight: nothing to compare
        time.sleep(1.1)  # the target falls due again (cadence 1 s)

        # Pass 2, certificate changed: the monitor records the drift, its sender hangs on
        # the stalled webhook, and the monitor is killed with SIGKILL right then.
        with tls_server(second, answer("200 OK", {})) as port:
            proc = subprocess.Popen(
                [sys.executable, "-m", "residency", *monitor_args(db, server, port, receiver.url)],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                assert receiver.wait_posts(1, timeout=120), "no alert was sent"
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
        recorded = control_events(db)
        assert sorted(recorded) == [
            ("certificate-org-changed", "First Processing Ltd (IE)", "Second Holdings Inc (US)"),
            ("controller-changed", "First Processing Ltd (IE)", "Second Holdings Inc (US)"),
        ]

        # Pass 3, after the dead sender's lease: the receiver answers now; what the
        # killed monitor claimed is delivered, once, and nothing is recorded twice.
        receiver.server.mode = "ok"
        time.sleep(2.1)
        with tls_server(second, answer("200 OK", {})) as port:
            run = run_cli(*monitor_args(db, server, port, receiver.url), env=env, timeout=120)
        assert run.code == 0 and not run.traceback, run.stderr[-2000:]
        delivered = receiver.tally.events

    assert sorted(control_events(db)) == sorted(recorded)
    store = open_store(str(db))
    try:
        ids = [e.id for e in store.history(HOST).events if e.kind.value in CONTROL_KINDS]
        assert store.outbox_size() == 0
        runs = sorted(store.runs(limit=10), key=lambda r: r.seq)
    finally:
        store.close()
    assert all(delivered[i] == 1 for i in ids), delivered

    history = run_cli("history", HOST, "--db", str(db), env=env)
    assert "certificate-org-changed" in history.stdout and "Second Holdings Inc" in history.stdout
    # Pass 1 (first organisation) against pass 2 (the second).
    diff = run_cli("diff", runs[0].id, runs[1].id, "--json", "--db", str(db), env=env)
    assert diff.code == 1, diff.stderr  # like diff(1): 1 when something changed
    kinds = {c["kind"] for e in json.loads(diff.stdout)["entries"] for c in e["changes"]}
    assert kinds >= CONTROL_KINDS, kinds

    # Pass 4 without --probe: that evidence did not run, so nothing about the controller
    # or the certificate is drift (no alert spam), and what the certificate said is held.
    # Pass 5 with --probe again, the certificate now DV: the controller is no longer
    # known, with the reason (compared with the held answer, not with pass 4's unknown).
    dv = ca.leaf("dv", [HOST], policy=DV)
    for probe in (False, True):
        time.sleep(1.1)  # due again
        with tls_server(dv, answer("200 OK", {})) as port:
            probing = ["--probe", "tls", "--probe-port", str(port)] if probe else []
            run = run_cli(
                "monitor", "--once", "--db", str(db), "--nameserver", server.address,
                *probing, "--no-log-alerts", env=env, timeout=120,
            )  # fmt: skip
        assert run.code == 0 and not run.traceback, run.stderr[-2000:]
    store = open_store(str(db))
    try:
        assert len(store.runs(limit=10)) == 5  # both passes checked the target
    finally:
        store.close()
    lost = [e for e in control_events(db) if e not in recorded]
    assert sorted(lost) == [
        ("certificate-org-changed", "Second Holdings Inc (US)", "none (no organisation)"),
        ("controller-changed", "Second Holdings Inc (US)", None),
    ], lost
    history = run_cli("history", HOST, "--db", str(db), env=env)
    assert "controller no longer known (was Second Holdings Inc (US)): DV" in history.stdout
