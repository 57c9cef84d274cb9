"""End to end: ``residency monitor --once`` with the real Auditor, Locator and a Knot server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

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

BEFORE = """
api   300 CNAME lb-7.ap-southeast-1.elb.amazonaws.com.app.test.
lb-7.ap-southeast-1.elb.amazonaws.com 60 A 13.228.0.1
"""
AFTER = """
api   300 CNAME edge.app.test.
edge  300 A     52.66.10.20
"""
POLICY = 'name = "India payments"\nversion = "1"\n\n[countries]\nallow = ["IN"]\n'


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = imported_dataset(tmp_path_factory.mktemp("monitor-data"))
    Locator.load(directory)  # compile once for the module
    return directory


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_monitor_once_records_and_detects_drift(
    make_dns_server: Callable[[list[Zone]], KnotServer], dataset: Path, tmp_path: Path
) -> None:
    server = make_dns_server([zone("app.test", BEFORE)])
    (tmp_path / "policy.toml").write_text(POLICY)
    targets = tmp_path / "targets.toml"
    targets.write_text(
        '[defaults]\npolicy = "policy.toml"\nmin_interval = "1s"\njitter = 0\n'
        '[[target]]\nhost = "api.app.test"\n'
    )
    db = str(tmp_path / "history.sqlite3")
    common = [
        "--targets",
        str(targets),
        "--nameserver",
        server.address,
        "--data-dir",
        str(dataset),
        "--db",
        db,
        "--no-log-alerts",
    ]
    code, _, err = invoke("monitor", "--once", *common)
    assert code == 0, err
    assert "1 checked" in err

    server.set_zone(zone("app.test", AFTER, serial=2))
    # The CLI runs on the wall clock: make the target due now instead of waiting.
    store = open_store(db)
    with store.backend.transaction() as tx:
        tx.execute("UPDATE target SET next_due = 0")
    store.close()
    code, _, err = invoke("monitor", "--once", *common)
    assert code == 0, err
    assert "1 checked" in err and "drift event" in err

    code, out, _ = invoke("history", "api.app.test", "--json", "--db", db)
    timeline = json.loads(out)
    kinds = sorted(e["kind"] for e in timeline["events"])
    assert kinds == ["address-appeared", "address-disappeared", "cname-changed", "verdict-changed"]
    countries = {(loc["ip"], loc["country"]) for loc in timeline["locations"]}
    assert countries == {("13.228.0.1", "SG"), ("52.66.10.20", "IN")}
    assert invoke("diff", "--db", db)[0] == 1
