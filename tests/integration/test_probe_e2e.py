"""End to end: a name in a Knot zone resolving to 127.0.0.1, probed over TLS and HTTP, judged
by a policy with [controllers]; the verdict names the controller side."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from residency.locate.locator import Locator
from tests.hostile.runner import run_cli
from tests.integration.dnsserver import KnotServer, Zone, zone
from tests.locate.fixtures import imported_dataset
from tests.probe.certs import OV, Authority
from tests.probe.servers import answer, tls_server
from tests.support import SHARED_DATA

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent"),
]

POLICY = """
name = "defence advisory"
[controllers]
allow = ["IN"]
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = imported_dataset(tmp_path_factory.mktemp("probe-data"))
    Locator.load(directory)
    return directory


def test_probe_through_knot(
    dataset: Path, tmp_path: Path, make_dns_server: Callable[[list[Zone]], KnotServer]
) -> None:
    server = make_dns_server([zone("app.test", "api 300 A 127.0.0.1\n")])
    ca = Authority(tmp_path)
    pair = ca.leaf(
        "api",
        ["api.app.test"],
        org="Beijing Xiaomi Mobile Software Co., Ltd.",
        country="CN",
        policy=OV,
    )
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    env = {"SSL_CERT_FILE": str(ca.pem)}
    with tls_server(pair, answer("200 OK", {"cf-ray": "8c1f2a3b4c5d6e7f-BOM"})) as port:
        base = ["audit", "api.app.test", "--nameserver", server.address, "--probe", "tls,http"]
        base += ["--probe-port", str(port), "--policy", str(policy)]
        run = run_cli(*base, "--format", "json", data_dir=dataset, env=env)
        text = run_cli(*base, "-v", data_dir=dataset, env={**env, "COLUMNS": "200"})
    assert not run.traceback and run.code == 1, run.stderr[-2000:]
    (endpoint,) = json.loads(run.stdout)["endpoints"]
    assert endpoint["controller"]["entity"] == "Beijing Xiaomi Mobile Software Co., Ltd."
    assert endpoint["controller"]["basis"] == "OV certificate"
    edge = endpoint["probes"][1]["edge"]
    assert (edge["cdn"], edge["pop"], edge["place"]["country"]) == ("cloudflare", "BOM", "IN")
    assert any(r["code"] == "controller-not-allowed" for r in endpoint["reasons"])
    assert endpoint["verdict"] == "FAIL"
    assert (
        "controlled by Beijing Xiaomi Mobile Software Co., Ltd. (CN) → parent unknown "
        "[OV certificate" in text.stdout
    )
    assert "cloudflare edge for this vantage (local): BOM" in text.stdout
