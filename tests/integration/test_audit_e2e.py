"""End to end: ``residency audit`` through a real Knot server on 127.0.0.1 and the real locator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from residency.audit.core import Auditor
from residency.cli import cli
from residency.locate.locator import Locator
from residency.model import Outcome, Verdict
from residency.resolve.engine import ChainResolver, ResolverSettings
from tests.integration.dnsserver import KnotServer, Zone, zone
from tests.locate.fixtures import imported_dataset
from tests.support import SHARED_DATA

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent"),
]

APP_ZONE = """
api         300 CNAME lb-7.ap-southeast-1.elb.amazonaws.com.app.test.
payments    300 A     52.66.10.20
analytics   300 CNAME cdn.app.test.
cdn          60 A     1.1.1.1
eu          300 A     20.50.2.1
eu          300 AAAA  2a05:d018::1
lb-7.ap-southeast-1.elb.amazonaws.com 60 A 13.228.0.1
"""

POLICY = """
name = "India payments"
version = "1"

[countries]
allow = ["IN"]
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = imported_dataset(tmp_path_factory.mktemp("audit-data"))
    Locator.load(directory)  # compile once for the module
    return directory


@pytest.fixture
def server(make_dns_server: Callable[[list[Zone]], KnotServer]) -> KnotServer:
    return make_dns_server([zone("app.test", APP_ZONE)])


def _locator(dataset: Path) -> Locator:
    return Locator.load(dataset)


def test_auditor_resolves_chains_and_locates(server: KnotServer, dataset: Path) -> None:
    from residency.endpoints import read_targets

    targets = read_targets(["api.app.test", "https://payments.app.test/pay", "nx.app.test"])
    resolver = ChainResolver(ResolverSettings(nameservers=(server.address,), timeout=2.0))
    try:
        result = Auditor(resolver, _locator(dataset)).audit(targets.endpoints)
    finally:
        resolver.close()
    by_host = {r.endpoint.host: r for r in result.endpoints}
    api = by_host["api.app.test"]
    assert api.resolutions[0].outcome is Outcome.RESOLVED
    assert api.resolutions[0].cname_targets == ("lb-7.ap-southeast-1.elb.amazonaws.com.app.test",)
    (facts,) = api.facts
    assert (facts.ip, facts.provider, facts.region) == ("13.228.0.1", "aws", "ap-southeast-1")
    assert facts.location.country == "SG"
    assert by_host["payments.app.test"].facts[0].location.country == "IN"
    assert by_host["nx.app.test"].resolutions[0].outcome is Outcome.NXDOMAIN
    assert by_host["nx.app.test"].facts == ()
    assert {v.dataset for v in result.data_versions} >= {"aws-ip-ranges", "aws-geofeed"}


def test_cli_audit_json_with_policy(server: KnotServer, dataset: Path, tmp_path: Path) -> None:
    policy = tmp_path / "in.toml"
    policy.write_text(POLICY)
    args = ["audit", "--nameserver", server.address, "--data-dir", str(dataset)]
    args += ["--policy", str(policy), "--json", "payments.app.test", "api.app.test"]
    args += ["analytics.app.test", "bad..name", "eu.app.test"]
    out = CliRunner().invoke(cli, args, env={"RESIDENCY_GEOIP": ""})
    # a bad entry makes the exit status 2, and the rest are still audited
    assert out.exit_code == 2, out.output
    assert "bad..name" in out.stderr
    doc = json.loads(out.stdout)
    verdicts = {e["host"]: e["verdict"] for e in doc["endpoints"]}
    assert verdicts["payments.app.test"] == "PASS"
    assert verdicts["api.app.test"] == "FAIL"
    assert verdicts["analytics.app.test"] == "INDETERMINATE"  # Cloudflare anycast
    assert verdicts["eu.app.test"] == "FAIL"
    assert doc["verdict"] == "FAIL"


def test_cli_exit_codes(server: KnotServer, dataset: Path, tmp_path: Path) -> None:
    policy = tmp_path / "in.toml"
    policy.write_text(POLICY)
    base = ["audit", "--nameserver", server.address, "--data-dir", str(dataset)]
    base += ["--policy", str(policy), "-q"]
    runner = CliRunner()
    assert runner.invoke(cli, [*base, "payments.app.test"]).exit_code == 0
    assert runner.invoke(cli, [*base, "api.app.test"]).exit_code == 1
    assert runner.invoke(cli, [*base, "analytics.app.test"]).exit_code == 0
    strict = [*base, "--fail-on", "indeterminate", "analytics.app.test"]
    assert runner.invoke(cli, strict).exit_code == 1
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\nversion = "1"\n[countries]\nallow = ["UK"]\n')
    out = runner.invoke(cli, [*base[:-3], "--policy", str(broken), "payments.app.test"])
    assert out.exit_code == 2 and "UK" in out.stderr and "Traceback" not in out.output


def test_unreachable_resolver_is_an_outcome_not_an_abort(dataset: Path) -> None:
    args = ["audit", "--nameserver", "127.0.0.1:9", "--timeout", "0.5", "--data-dir", str(dataset)]
    out = CliRunner().invoke(cli, [*args, "--format", "json", "example.test", "1.1.1.1"])
    assert out.exit_code == 0, out.output
    assert "Traceback" not in out.output
    assert "resolver-unreachable" in out.stdout
    assert "ip-literal" in out.stdout


def test_verdict_is_worst(server: KnotServer, dataset: Path, tmp_path: Path) -> None:
    from residency.endpoints import read_targets
    from residency.policy import load_policy

    policy = tmp_path / "in.toml"
    policy.write_text(POLICY)
    resolver = ChainResolver(ResolverSettings(nameservers=(server.address,), timeout=2.0))
    try:
        auditor = Auditor(resolver, _locator(dataset), policy=load_policy(policy))
        result = auditor.audit(read_targets(["payments.app.test", "api.app.test"]).endpoints)
    finally:
        resolver.close()
    assert result.verdict is Verdict.FAIL
    assert result.policy is not None and result.policy.name == "India payments"


def test_observed_versus_re_resolved(server: KnotServer, dataset: Path, tmp_path: Path) -> None:
    """A HAR records what the app really contacted; re-resolution may differ, and says so."""
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "test", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2026-11-01T10:00:00.000Z",
                    "request": {"method": "POST", "url": "https://payments.app.test/pay"},
                    "response": {"status": 200},
                    "serverIPAddress": "13.228.0.1",
                },
                {
                    "startedDateTime": "2026-11-01T10:00:01.000Z",
                    "request": {"method": "GET", "url": "https://eu.app.test/"},
                    "response": {"status": 200},
                    "serverIPAddress": "20.50.2.1",
                },
            ],
        }
    }
    path = tmp_path / "app.har"
    path.write_text(json.dumps(har))
    args = ["audit", "--nameserver", server.address, "--data-dir", str(dataset)]
    out = CliRunner().invoke(cli, [*args, "--json", "--har", str(path)])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    by_host = {e["host"]: e for e in doc["endpoints"]}
    pay = by_host["payments.app.test"]
    seen = {a["ip"]: (a["seen"], a["location"]["country"]) for a in pay["addresses"]}
    assert seen == {"13.228.0.1": ("observed", "SG"), "52.66.10.20": ("resolved", "IN")}
    assert pay["observation_mismatch"] == (
        "observed only: 13.228.0.1; re-resolved only: 52.66.10.20"
    )
    eu = by_host["eu.app.test"]
    assert {a["ip"]: a["seen"] for a in eu["addresses"]}["20.50.2.1"] == "observed+resolved"
    # The default table has one row per endpoint; the per-address view is -v.
    table = CliRunner().invoke(cli, [*args, "-v", "--har", str(path)])
    assert "13.228.0.1 (observed only)" in table.stdout
    assert "observed vs re-resolved differ for payments.app.test" in table.stdout


def test_jsonl_streams_one_line_per_endpoint(
    server: KnotServer, dataset: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "in.toml"
    policy.write_text(POLICY)
    names = tmp_path / "names.txt"
    names.write_text("payments.app.test\napi.app.test\nbad_name!\nnx.app.test\n")
    out = tmp_path / "out.jsonl"
    args = ["audit", "--nameserver", server.address, "--data-dir", str(dataset)]
    args += ["--policy", str(policy), "--format", "jsonl", "-o", str(out), str(names)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output  # one bad entry
    assert "bad_name!" in result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    *endpoints, summary = lines
    assert {e["host"]: e["verdict"] for e in endpoints} == {
        "payments.app.test": "PASS",
        "api.app.test": "FAIL",
        "nx.app.test": "INDETERMINATE",
    }
    assert summary["summary"] == {
        "endpoints": 3,
        "verdicts": {"FAIL": 1, "INDETERMINATE": 1, "PASS": 1},
        "problems": 1,
    }
    assert summary["verdict"] == "FAIL" and summary["data_versions"]


def test_rdap_and_history_through_the_cli(
    server: KnotServer, dataset: Path, tmp_path: Path
) -> None:
    """--rdap (local RDAP server) and --db (SQLite history): registration sits beside the
    location, the answer is cached in the store, and the run is recorded."""
    from residency.store import open_store
    from tests.integration.rdapserver import RdapServer
    from tests.integration.test_rdap_policy import network

    rdap = RdapServer([network("13.228.0.0", "13.229.255.255", "AMAZON-SIN", "Amazon", "US")])
    db = tmp_path / "history.sqlite3"
    args = ["audit", "--nameserver", server.address, "--data-dir", str(dataset), "--json"]
    args += ["--rdap", "--rdap-url", rdap.base_url, "--db", str(db), "api.app.test"]
    try:
        first = CliRunner().invoke(cli, args)
        second = CliRunner().invoke(cli, args)
    finally:
        rdap.stop()
    assert first.exit_code == 0, first.output
    (address,) = json.loads(first.stdout)["endpoints"][0]["addresses"]
    assert address["location"]["country"] == "SG"
    assert address["registration"]["org"] == "Amazon"
    assert address["registration"]["country"] == "US"
    assert second.exit_code == 0
    assert len([p for p in rdap.requests if "/ip/" in p]) == 1  # second run: store cache
    store = open_store(str(db))
    try:
        rows = store.backend.transaction(write=False)
        with rows as tx:
            runs = tx.execute("SELECT COUNT(*) FROM run").rows[0][0]
            cached = tx.execute("SELECT COUNT(*) FROM kv_cache WHERE namespace = 'rdap'").rows
    finally:
        store.close()
    assert runs == 2 and cached[0][0] >= 1
