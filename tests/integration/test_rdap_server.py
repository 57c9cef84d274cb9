"""The whole RDAP path against a real HTTP server on 127.0.0.1: httpx transport,
ipwhois parsing, the CIDR cache (counted at the server), limits and failures."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from residency.locate.providers import ProviderRegistry
from residency.locate.registration.rdap_cache import MemoryRdapCache, SqliteRdapCache
from residency.locate.registration.rdap_client import RdapLookup
from residency.locate.registration.rdap_evidence import describe
from residency.model import Confidence, Location, Place
from tests.integration.rdapserver import RdapServer
from tests.support import shared

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def recorded_networks() -> list[dict[str, Any]]:
    cases = json.loads(shared("rdap", "ipwhois-tests-rdap_2015-10-18.json").read_text())
    return [case["response"] for case in cases.values()]


@pytest.fixture
def server(recorded_networks: list[dict[str, Any]]) -> Iterator[RdapServer]:
    running = RdapServer(recorded_networks)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


def test_whole_path_one_query_per_network(server: RdapServer, client: httpx.Client) -> None:
    lookup = RdapLookup(client, server.base_url, MemoryRdapCache(), timeout=5)
    first = lookup.lookup("74.125.225.229")
    assert first.status == "known"
    assert (first.network_name, first.cidr, first.org) == ("GOOGLE", "74.125.0.0/16", "Google Inc.")
    assert (first.country, first.rir, first.abuse_email) == (
        "US",
        "ARIN",
        "arin-contact@google.com",
    )
    assert first.source == f"rdap {server.base_url}/ip/74.125.225.229"

    # A thousand addresses in the same /16: answered by the cache, no new request.
    for n in range(1000):
        same = lookup.lookup(f"74.125.{n % 256}.{n // 256 + 1}")
        assert same == first
    assert server.requests == ["/ip/74.125.225.229"]
    assert lookup.stats.queries == 1
    assert lookup.stats.cache_hits == 1000

    ripe = lookup.lookup("62.239.237.1")
    assert (ripe.network_name, ripe.country, ripe.rir) == ("BT-CORPORATE", "GB", "RIPE NCC")
    assert len(server.requests) == 2

    # Registration feeds the operator side through the provider registry.
    operator = ProviderRegistry.load().operator_for(None, None, org=first.org)
    assert (operator.provider, operator.jurisdiction) == ("google", "US")
    hosted = Location(Place("SG"), Confidence.HIGH, basis="provider-feed")
    assert describe(first, hosted) == "registered to Google Inc., US; hosted in SG"


def test_persistent_cache_survives_a_new_run(
    server: RdapServer, client: httpx.Client, tmp_path: Path
) -> None:
    path = tmp_path / "rdap.sqlite3"
    run1 = RdapLookup(client, server.base_url, SqliteRdapCache(path), timeout=5)
    assert run1.lookup("2001:4860:4860::8888").org == "Google Inc."
    run2 = RdapLookup(client, server.base_url, SqliteRdapCache(path), timeout=5)
    again = run2.lookup("2001:4860::1")
    assert again.org == "Google Inc." and again.cidr == "2001:4860::/32"
    assert len(server.requests) == 1
    assert run2.stats.queries == 0 and run2.stats.cache_hits == 1


def test_bootstrap_redirect_is_followed(server: RdapServer, client: httpx.Client) -> None:
    lookup = RdapLookup(client, f"{server.base_url}/bootstrap", MemoryRdapCache(), timeout=5)
    result = lookup.lookup("200.57.141.161")
    assert (result.org, result.country, result.rir) == ("Triara.com, S.A. de C.V.", "MX", "LACNIC")
    assert server.requests == ["/bootstrap/ip/200.57.141.161", "/ip/200.57.141.161"]


def test_429_with_retry_after_is_waited_out(server: RdapServer, client: httpx.Client) -> None:
    server.script(429, Retry_After="1")
    lookup = RdapLookup(client, server.base_url, MemoryRdapCache(), timeout=5)
    started = time.monotonic()
    result = lookup.lookup("74.125.225.229")
    assert result.status == "known"
    assert time.monotonic() - started >= 0.9
    assert len(server.requests) == 2


def test_429_without_retry_after_ends_unknown_rate_limited(
    server: RdapServer, client: httpx.Client
) -> None:
    for _ in range(2):
        server.script(429)
    lookup = RdapLookup(
        client, server.base_url, MemoryRdapCache(), timeout=5, retries=1, backoff=0.05
    )
    result = lookup.lookup("74.125.225.229")
    assert result.status == "unknown"
    assert result.reason == "rate limited: HTTP 429 from 127.0.0.1; retry after 0.1s"
    assert len(server.requests) == 2
    # Not cached: the next audit asks again.
    assert lookup.lookup("74.125.225.229").status == "known"


def test_5xx_is_unknown_with_the_status(server: RdapServer, client: httpx.Client) -> None:
    server.script(502)
    server.script(503)
    lookup = RdapLookup(
        client, server.base_url, MemoryRdapCache(), timeout=5, retries=1, backoff=0.01
    )
    result = lookup.lookup("74.125.225.229")
    assert (result.status, result.reason) == (
        "unknown",
        "RDAP server error: HTTP 503 from 127.0.0.1",
    )


def test_timeout_is_unknown_never_a_crash(
    recorded_networks: list[dict[str, Any]], client: httpx.Client
) -> None:
    slow = RdapServer(recorded_networks, delay=1.0)
    try:
        lookup = RdapLookup(client, slow.base_url, MemoryRdapCache(), timeout=0.2)
        result = lookup.lookup("74.125.225.229")
    finally:
        slow.stop()
    assert result.status == "unknown"
    assert result.reason == "RDAP unreachable: no answer from 127.0.0.1 within 0.2s"


def test_malformed_json_is_unknown(server: RdapServer, client: httpx.Client) -> None:
    server.script(
        200, b'{"handle": "NET-1", "startAddress": ', Content_Type="application/rdap+json"
    )
    lookup = RdapLookup(client, server.base_url, MemoryRdapCache(), timeout=5)
    result = lookup.lookup("74.125.225.229")
    assert result.status == "unknown"
    assert result.reason == "malformed RDAP response from 127.0.0.1: not JSON"


def test_unreachable_service_is_unknown_and_stops_being_asked(client: httpx.Client) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connections are refused
    lookup = RdapLookup(
        client, f"http://127.0.0.1:{port}", MemoryRdapCache(), timeout=2, unreachable_after=2
    )
    results = [lookup.lookup(f"8.8.{n}.8") for n in range(5)]
    assert all(r.status == "unknown" for r in results)
    assert all(r.reason.startswith("RDAP unreachable") for r in results)
    assert lookup.stats.queries == 2


def test_concurrency_cap_is_respected(
    recorded_networks: list[dict[str, Any]], client: httpx.Client
) -> None:
    paced = RdapServer(recorded_networks, delay=0.05)
    try:
        lookup = RdapLookup(client, paced.base_url, MemoryRdapCache(), timeout=5, concurrency=2)
        addresses = [
            "74.125.225.229",
            "62.239.237.1",
            "200.57.141.161",
            "210.107.73.73",
            "196.11.240.215",
            "2001:4860:4860::8888",
            "2a00:2381:ffff::1",
            "2001:240:10c:1::ca20:9d1d",
        ]
        results = lookup.lookup_many(addresses, workers=8)
    finally:
        paced.stop()
    assert all(r.status == "known" for r in results.values())
    assert paced.max_in_flight <= 2
    assert len(paced.requests) == len(addresses)
