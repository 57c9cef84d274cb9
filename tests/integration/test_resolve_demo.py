"""The demo zones: served by Knot, every endpoint resolves to the story the README tells."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import pytest

from residency.demo import __main__ as demo
from residency.demo.knot import KnotServer, zones_from_dir
from residency.locate.hints import hostname_hints
from residency.model import Outcome
from residency.paths import project_data_dir
from residency.resolve.engine import ChainResolver, ResolverSettings
from tests.integration.dnsserver import require_knot

pytestmark = pytest.mark.integration

DEMO = project_data_dir() / "demo"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> KnotServer:
    require_knot()
    server = KnotServer(
        tmp_path_factory.mktemp("demo"),
        zones_from_dir(DEMO / "zones"),
    ).start()
    yield server  # type: ignore[misc]
    server.stop()


def endpoint_hosts() -> list[str]:
    hosts = []
    for line in (DEMO / "endpoints.txt").read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].split()
        if entry:
            hosts.append(entry[0].removeprefix("https://").split("/")[0])
    return hosts


EXPECTED = {
    "api.account.kitephone.demo.residency.test": ("aws", "ap-southeast-1", 2),
    "images.kitephone.demo.residency.test": ("aws", None, 1),
    "telemetry.kitephone.demo.residency.test": (None, None, 1),
    "mirrors.kitephone.demo.residency.test": (None, None, 44),
    "www.kitephone.demo.residency.test": (None, None, 2),
    "app.kitephone.demo.residency.test": (None, None, 1),
    "pay.kitepay.demo.residency.test": ("aws", "ap-south-1", 2),
    "checkout.kitepay.demo.residency.test": ("cloudflare", None, 2),
    "upi.kitepay.demo.residency.test": ("azure", "westeurope", 1),
    "vault.kitepay.demo.residency.test": (None, None, 1),
    "tokens.kitepay.demo.residency.test": ("aws", "ap-southeast-1", 1),
}


def test_every_demo_endpoint_tells_its_story(demo_server: KnotServer) -> None:
    engine = ChainResolver(ResolverSettings(nameservers=(demo_server.address,), timeout=2))
    results = {name: res for name, (res,) in engine.resolve_many(endpoint_hosts())}
    assert results.keys() == EXPECTED.keys() | {"old-api.kitephone.demo.residency.test"}
    assert results["old-api.kitephone.demo.residency.test"].outcome == Outcome.NXDOMAIN
    for name, (provider, region, count) in EXPECTED.items():
        result = results[name]
        assert result.outcome == Outcome.RESOLVED, (name, result.error)
        assert len(result.addresses) == count, name
        hints = hostname_hints(result.cname_targets)
        if provider is None:
            assert hints == (), name
        else:
            assert [(h.provider, h.region) for h in hints] == [(provider, region)], name
    telemetry = results["telemetry.kitephone.demo.residency.test"]
    assert [a.via for a in telemetry.addresses] == ["AAAA"]
    assert {a.via for a in results["www.kitephone.demo.residency.test"].addresses} == {
        "A",
        "HTTPS-ipv6hint",
    }


def test_mirror_pool_is_truncated_over_udp(demo_server: KnotServer) -> None:
    query = dns.message.make_query(
        "mirrors.kitephone.demo.residency.test", "AAAA", use_edns=0, payload=1232
    )
    reply = dns.query.udp(query, demo_server.host, port=demo_server.port, timeout=2)
    assert reply.flags & dns.flags.TC  # so the engine's 44 addresses came over TCP


def test_demo_main_runs_the_audit_through_the_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    require_knot()
    calls: list[list[str]] = []

    def fake_audit(args: list[str], env: dict[str, str] | None = None) -> int:
        # While the demo's server runs, resolve through it as the audit would.
        ns = args[args.index("--nameserver") + 1]
        engine = ChainResolver(ResolverSettings(nameservers=(ns,), timeout=2))
        assert (
            asyncio.run(engine.resolve("pay.kitepay.demo.residency.test")).outcome
            == Outcome.RESOLVED
        )
        calls.append(args)
        return 1  # violations found: still a successful demo

    monkeypatch.setattr(demo, "audit", fake_audit)
    monkeypatch.setattr(demo, "india_prefix", lambda data_dir: "49.36.1.0/24")
    assert demo.main([]) == 0
    probed, first = calls[0], calls[1]
    assert probed[probed.index("--policy") + 1].endswith("defence-personnel.toml")
    assert probed[probed.index("--probe-connect-to") + 1].startswith("::127.0.0.1:")
    assert first[first.index("--policy") + 1].endswith("india-payments.toml")
    assert "--probe" not in first
    assert Path(first[-1]) == DEMO / "endpoints.txt"
    control = calls[2]  # issue 19: who controls the third parties, under eu-sovereign
    assert control[control.index("--policy") + 1].endswith("eu-sovereign.toml")
    assert Path(control[-1]) == DEMO / "control-endpoints.txt"
    if demo.geoip_module_present():
        assert calls[3][-1] == demo.GEO_NAME and calls[3].count("--vantage") == 2
