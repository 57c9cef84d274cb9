"""Domain registrants through a real RDAP HTTP server on 127.0.0.1, and an audit through the
CLI whose controller comes from the registrant."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from residency.datasets.rdap_bootstrap import bundled_bootstrap
from residency.locate.registration.domain_rdap import NAMESPACE, DomainRdapLookup
from residency.store import open_store
from tests.hostile.runner import run_cli
from tests.integration.dnsserver import KnotServer, Zone, zone
from tests.integration.rdapserver import RdapServer
from tests.locate import domain_fixtures as fx

pytestmark = pytest.mark.integration

DOMAINS: dict[str, dict[str, object] | bytes] = {
    "globex.co.uk": fx.KNOWN,
    "umbrella.fr": fx.KNOWN_FN,
    "initech.com": fx.REDACTED,
    "hooli.net": fx.REDACTED_VALUE,
    "garbage.net": fx.GARBAGE,
    "types.net": fx.WRONG_TYPES,
    "huge.net": b'{"ldhName": "' + b"A" * (2 * 1024 * 1024) + b'"}',
    "deep.net": b"[" * 200_000 + b"]" * 200_000,
}


def _deep_entities() -> dict[str, object]:
    """Entities nested 300 deep, the registrant at the bottom: read to a bounded depth."""
    entity: dict[str, object] = {"handle": "LEAF", "roles": ["registrant"]}
    for n in range(300):
        entity = {"handle": f"E{n}", "roles": ["technical"], "entities": [entity]}
    return fx.domain("nested.net", entity)


@pytest.fixture
def server() -> Iterator[RdapServer]:
    rdap = RdapServer([], domains=DOMAINS)
    # A thin registry answer pointing to the registrar's server (same origin here).
    registrar = f"{rdap.base_url}/registrar/domain/acme.com"
    rdap.domains["acme.com"] = fx.thin("acme.com", registrar)
    rdap.domains["nested.net"] = _deep_entities()
    rdap.domains["/registrar/domain/acme.com"] = fx.domain(
        "acme.com", *fx.KNOWN["entities"][1:], ldhName="acme.com"
    )
    yield rdap
    rdap.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


def _lookup(client: httpx.Client, server: RdapServer, **kw: object) -> DomainRdapLookup:
    return DomainRdapLookup(
        client,
        bundled_bootstrap(),
        server_url=server.base_url,
        timeout=2.0,
        **kw,  # type: ignore[arg-type]
    )


def test_org_and_country_redacted_garbage_and_404(server: RdapServer, client: httpx.Client) -> None:
    lookup = _lookup(client, server)
    known = lookup.lookup("api.shop.globex.co.uk")
    assert (known.status, known.org, known.country) == ("known", "Globex Corporation Ltd", "GB")
    assert (known.domain, known.server) == ("globex.co.uk", "127.0.0.1")
    assert lookup.lookup("www.umbrella.fr").org == "Umbrella SAS"

    redacted = lookup.lookup("mail.initech.com")
    assert (redacted.status, redacted.org) == ("redacted", None)
    assert lookup.lookup("hooli.net").status == "redacted"

    garbage = lookup.lookup("cdn.garbage.net")
    assert garbage.status == "unknown"
    assert garbage.reason == "malformed RDAP response from 127.0.0.1: not JSON"
    types = lookup.lookup("types.net")
    assert types.reason == "malformed RDAP response from 127.0.0.1: entities is not a list"
    huge = lookup.lookup("huge.net")
    assert huge.reason == "RDAP answer from 127.0.0.1 larger than 1 MiB: not read"

    deep = lookup.lookup("deep.net")
    assert deep.reason == "malformed RDAP response from 127.0.0.1: JSON nested too deeply"
    nested = lookup.lookup("nested.net")
    assert nested.reason == "127.0.0.1 publishes no registrant for nested.net"

    missing = lookup.lookup("www.missing.org")
    assert missing.status == "unknown"
    assert missing.reason == "no RDAP registration for missing.org (HTTP 404 from 127.0.0.1)"
    assert server.requests == [
        "/domain/globex.co.uk",
        "/domain/umbrella.fr",
        "/domain/initech.com",
        "/domain/hooli.net",
        "/domain/garbage.net",
        "/domain/types.net",
        "/domain/huge.net",
        "/domain/deep.net",
        "/domain/nested.net",
        "/domain/missing.org",
    ]


def test_no_registrable_domain_never_reaches_the_server(
    server: RdapServer, client: httpx.Client
) -> None:
    lookup = _lookup(client, server)
    for host in ("co.uk", "2001:db8::1", "localhost"):
        found = lookup.lookup(host)
        assert found.status == "unknown" and "has no registrable domain" in found.reason
    assert server.requests == []


def test_thin_registry_points_to_the_registrar(server: RdapServer, client: httpx.Client) -> None:
    found = _lookup(client, server).lookup("www.acme.com")
    assert (found.status, found.org) == ("known", "Globex Corporation Ltd")
    assert server.requests == ["/domain/acme.com", "/registrar/domain/acme.com"]


def test_one_query_per_domain_and_the_store_cache_serves_the_next_run(
    server: RdapServer, client: httpx.Client, tmp_path: Path
) -> None:
    store = open_store(str(tmp_path / "history.sqlite3"))
    try:
        first = _lookup(client, server, cache=store)
        hosts = ["a.globex.co.uk", "b.globex.co.uk", "globex.co.uk", "x.initech.com"]
        answers = [first.lookup(h) for h in hosts]
        assert server.requests == ["/domain/globex.co.uk", "/domain/initech.com"]
        assert first.cache_hits == 2
        rows = store.cache_items(NAMESPACE, 0.0)
        assert sorted(key.split(" ")[1] for key, _, _ in rows) == ["globex.co.uk", "initech.com"]

        again = _lookup(client, server, cache=store)
        assert [again.lookup(h) for h in hosts] == answers
        assert len(server.requests) == 2  # no new query: the store answered
        garbage = again.lookup("garbage.net")
        assert garbage.status == "unknown"
        again.lookup("garbage.net")
        assert server.requests[-2:] == ["/domain/garbage.net"] * 2  # failures are not cached
    finally:
        store.close()


def test_a_slow_server_is_unknown_within_the_time_cap(client: httpx.Client) -> None:
    slow = RdapServer([], delay=3.0, domains=DOMAINS)
    try:
        lookup = DomainRdapLookup(
            client, bundled_bootstrap(), server_url=slow.base_url, timeout=0.5
        )
        found = lookup.lookup("globex.co.uk")
    finally:
        slow.stop()
    assert found.status == "unknown"
    assert found.reason.startswith("RDAP unreachable: no answer from 127.0.0.1 within 0.5s")


# ------------------------------------------------------------------ through the CLI


def test_audit_through_the_cli_names_the_registrant_as_controller(
    server: RdapServer,
    small_dataset: Path,
    tmp_path: Path,
    make_dns_server: Callable[[list[Zone]], KnotServer],
) -> None:
    dns = make_dns_server(
        [
            zone("globex.co.uk", "api 300 A 127.0.0.1\n"),
            zone("initech.com", "www 300 A 127.0.0.1\n"),
        ]
    )
    policy = tmp_path / "policy.toml"
    policy.write_text('name = "uk controllers"\n[controllers]\nallow = ["GB"]\n')
    env = {
        "RESIDENCY_DOMAIN_RDAP_URL": server.base_url,
        "RESIDENCY_RDAP_URL": server.base_url,
        "RESIDENCY_RDAP_CACHE": str(tmp_path / "rdap.sqlite3"),
    }
    base = ["audit", "api.globex.co.uk", "www.initech.com", "co.uk", "--nameserver", dns.address]
    base += ["--rdap", "--policy", str(policy)]
    run = run_cli(*base, "--format", "json", data_dir=small_dataset, env=env)
    text = run_cli(*base, "-v", data_dir=small_dataset, env={**env, "COLUMNS": "200"})
    assert not run.traceback and run.code == 0, run.stderr[-2000:]  # INDETERMINATE: 0
    by_host = {e["host"]: e for e in json.loads(run.stdout)["endpoints"]}

    globex = by_host["api.globex.co.uk"]
    assert globex["registrant"]["status"] == "known"
    assert globex["controller"]["entity"] == "Globex Corporation Ltd"
    assert globex["controller"]["basis"].startswith("registrant (RDAP 127.0.0.1, 20")
    assert globex["verdict"] != "FAIL"

    initech = by_host["www.initech.com"]
    assert initech["registrant"]["status"] == "redacted"
    assert initech["controller"]["entity"] is None
    assert "registrant redacted (initech.com, RDAP 127.0.0.1)" in initech["controller"]["why"]
    assert any(r["code"] == "controller-unknown" for r in initech["reasons"])

    suffix = by_host["co.uk"]
    assert suffix["registrant"]["status"] == "unknown" and suffix["registrant"]["domain"] is None

    assert not text.traceback, text.stderr[-2000:]
    # no table knows Globex's owner: the chain says so (issue 19: "parent unknown" explicit)
    assert (
        "controlled by Globex Corporation Ltd (GB) → parent unknown [registrant (RDAP 127.0.0.1,"
        in text.stdout
    )
    assert "registrant redacted (initech.com, RDAP 127.0.0.1)" in text.stdout
