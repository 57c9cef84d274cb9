"""RFC 9092 discovery without a network: the link in RDAP, URL rules, the cache entry and
when discovery is consulted (httpx.MockTransport; the live cases are in tests/integration)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest

from residency.locate.registration.geofeed_discovery import (
    DiscoveredFeed,
    GeofeedDiscovery,
    locate_with_discovery,
)
from residency.locate.registration.rdap_cache import MemoryRdapCache
from residency.locate.registration.rdap_parse import geofeed_link, parse_rdap
from residency.model import Confidence, Evidence, IpFacts, Location, Place, Registration

FEED = b"81.2.69.0/24,GB,GB-ENG,London,\n"


def _network(**extra: object) -> dict[str, object]:
    return {
        "objectClassName": "ip network",
        "handle": "81.2.69.0 - 81.2.69.255",
        "startAddress": "81.2.69.0",
        "endAddress": "81.2.69.255",
        "ipVersion": "v4",
        "name": "EXAMPLE",
        "country": "GB",
        **extra,
    }


def test_geo_link_and_remark_are_read() -> None:
    linked = _network(links=[{"rel": "geo", "href": "https://example.net/geofeed.csv"}])
    assert parse_rdap(linked).registration.geofeed == "https://example.net/geofeed.csv"
    remark = _network(remarks=[{"description": ["Some text", "Geofeed https://example.net/g.csv"]}])
    assert parse_rdap(remark).registration.geofeed == "https://example.net/g.csv"
    assert geofeed_link({"remarks": [{"description": ["geofeed: https://x.example/f"]}]}) == (
        "https://x.example/f"
    )
    assert parse_rdap(_network()).registration.geofeed is None
    # wrong types are ignored, never an error: the geofeed is optional
    odd = _network(links=[{"rel": "geo", "href": 7}, "x"], remarks=[{"description": 5}])
    assert parse_rdap(odd).registration.geofeed is None


def _registration(url: str) -> Registration:
    return Registration(status="known", cidr="81.2.69.0/24", handle="NET-1", geofeed=url)


def _client(requests: list[str]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url))
        return httpx.Response(200, content=FEED, headers={"Content-Type": "text/csv"})

    return httpx.Client(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.net/g.csv", "not https"),
        ("https://127.0.0.1/g.csv", "a non-public address"),
        ("https://[::1]/g.csv", "a non-public address"),
        ("https://10.1.2.3/g.csv", "a non-public address"),
        ("https://localhost/g.csv", "a local host"),
    ],
)
def test_by_default_only_https_at_public_hosts(url: str, why: str) -> None:
    requests: list[str] = []
    discovery = GeofeedDiscovery(_client(requests))
    (line,) = discovery.evidence("81.2.69.1", _registration(url))
    assert why in line.note
    assert requests == []


def test_https_feed_is_fetched_once_and_cached() -> None:
    requests: list[str] = []
    cache = MemoryRdapCache()
    url = "https://example.net/geofeed.csv"
    first = GeofeedDiscovery(_client(requests), cache)
    (found,) = first.evidence("81.2.69.1", _registration(url))
    assert found.place == Place("GB", "GB-ENG", "London")
    first.evidence("81.2.69.2", _registration(url))
    second = GeofeedDiscovery(_client(requests), cache)
    second.evidence("81.2.69.3", _registration(url))
    assert requests == [url]
    stored = cache.kv_get("geofeed", url)
    assert stored is not None
    feed = DiscoveredFeed.from_json(stored)
    assert feed is not None and feed.fetched.startswith("20")
    assert DiscoveredFeed.from_json("{}") is None


def test_no_registration_or_no_link_asks_nothing() -> None:
    requests: list[str] = []
    discovery = GeofeedDiscovery(_client(requests))
    assert discovery.evidence("81.2.69.1", None) == ()
    assert discovery.evidence("81.2.69.1", Registration(status="known")) == ()
    assert discovery.evidence("81.2.69.1", Registration(status="unknown", reason="x")) == ()
    assert requests == []


def _facts(basis: str) -> IpFacts:
    place = Place("US") if basis != "no-data" else None
    return IpFacts("81.2.69.1", True, Location(place, Confidence.HIGH, basis))


def test_provider_feed_decides_without_fetching() -> None:
    requests: list[str] = []
    discovery = GeofeedDiscovery(_client(requests))
    calls: list[Sequence[Evidence]] = []

    def locate(
        ip: str, hints: object, registration: object, extra: Sequence[Evidence] = ()
    ) -> IpFacts:
        calls.append(extra)
        return _facts("provider-feed")

    reg = _registration("https://example.net/geofeed.csv")
    locate_with_discovery(locate, "81.2.69.1", (), reg, discovery)
    assert calls == [()] and requests == []

    def locate_geoip(
        ip: str, hints: object, registration: object, extra: Sequence[Evidence] = ()
    ) -> IpFacts:
        calls.append(extra)
        return _facts("geoip-single")

    calls.clear()
    locate_with_discovery(locate_geoip, "81.2.69.1", (), reg, discovery)
    assert len(calls) == 2 and calls[1][0].place == Place("GB", "GB-ENG", "London")
