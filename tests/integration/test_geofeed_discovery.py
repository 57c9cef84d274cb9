"""RFC 9092 discovery end to end: a local RDAP server whose network links a geofeed on
a local HTTP server; good, foreign, HTML, oversized, truncated, stalled and redirected
feeds, and the cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from residency.locate.registration.geofeed_discovery import GeofeedDiscovery
from residency.locate.registration.rdap_cache import MemoryRdapCache, SqliteRdapCache
from residency.locate.registration.rdap_client import RdapLookup
from residency.locate.trust.merge import merge_facts
from residency.model import Evidence, EvidenceKind, Place, Registration
from tests.integration.feedserver import (
    FeedServer,
    csv_route,
    endless_route,
    redirect_route,
    stalled_route,
    truncated_route,
)
from tests.integration.rdapserver import RdapServer, _network

pytestmark = pytest.mark.integration

GOOD = b"# updated 2026-11-30\n81.2.69.0/25,DE,DE-BE,Berlin,\n81.2.69.128/25,FR,,Paris,\n"
FOREIGN = GOOD + b"8.8.8.0/24,US,,,\n"

ROUTES = {
    "/good.csv": csv_route(GOOD),
    "/foreign.csv": csv_route(FOREIGN),
    "/page.html": csv_route(b"<html><body>moved</body></html>", "text/html; charset=utf-8"),
    "/sneaky.csv": csv_route(b"<!DOCTYPE html><html></html>\n", "text/plain"),
    "/big.csv": csv_route(b"81.2.69.0/24,DE,,,\n" * 20_000),
    "/endless.csv": endless_route(),
    "/cut.csv": truncated_route(GOOD),
    "/stall.csv": stalled_route(b"81.2.69.0/25,DE,,,\n"),
    "/same-host.csv": redirect_route(lambda s: s.url("/good.csv")),
    "/other-host.csv": redirect_route(lambda s: s.url("/good.csv", host="localhost")),
}


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    server = FeedServer(ROUTES)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


def _registration(feeds: FeedServer, client: httpx.Client, path: str) -> Registration:
    """The registration a local RDAP server gives for 81.2.69.0/24, linking ``path``."""
    network = _network(
        "81.2.69.0",
        "81.2.69.255",
        "EXAMPLE-NET",
        links=[
            {"value": "x", "rel": "self", "href": "http://example.invalid/ip/81.2.69.0"},
            {"value": "x", "rel": "geo", "href": feeds.url(path), "type": "text/csv"},
        ],
    )
    rdap = RdapServer([network])
    try:
        registration = RdapLookup(client, rdap.base_url, MemoryRdapCache()).lookup("81.2.69.10")
    finally:
        rdap.stop()
    assert registration.status == "known", registration.reason
    assert registration.geofeed == feeds.url(path)
    return registration


def _discovery(client: httpx.Client, **options: object) -> GeofeedDiscovery:
    return GeofeedDiscovery(client, MemoryRdapCache(), allow_local=True, **options)  # type: ignore[arg-type]


def test_good_feed_places_the_address_and_ranks_as_a_geofeed(
    feeds: FeedServer, client: httpx.Client
) -> None:
    registration = _registration(feeds, client, "/good.csv")
    discovery = _discovery(client)
    (found,) = discovery.evidence("81.2.69.10", registration)
    assert found.kind is EvidenceKind.GEOFEED
    assert found.place == Place("DE", "DE-BE", "Berlin")
    assert found.prefix == "81.2.69.0/25"
    assert found.source == f"geofeed {feeds.url('/good.csv')}"
    assert found.version.startswith("fetched 20")
    (other,) = discovery.evidence("81.2.69.200", registration)
    assert other.place == Place("FR", None, "Paris")
    assert discovery.fetches == 1  # one fetch for the whole network
    geoip = Evidence("geoip:dbip", EvidenceKind.GEOIP, "2026-11", place=Place("NL"))
    facts = merge_facts("81.2.69.10", [geoip, found], registration=registration)
    assert facts.location.basis == "geofeed"
    assert facts.location.country == "DE"
    assert any("geoip:dbip says NL" in d for d in facts.disagreements)


def test_entries_outside_the_linking_network_are_dropped(
    feeds: FeedServer, client: httpx.Client
) -> None:
    registration = _registration(feeds, client, "/foreign.csv")
    found = _discovery(client).evidence("81.2.69.10", registration)
    placed = [e for e in found if e.place]
    assert [e.place.country for e in placed if e.place] == ["DE"]
    (warning,) = [e for e in found if not e.place]
    assert "1 entry outside 81.2.69.0/24" in warning.note
    assert "8.8.8.0/24" in warning.note
    assert warning.source == f"geofeed {feeds.url('/foreign.csv')}"
    # an address the foreign entry names is never placed by it
    foreign = Registration(status="known", cidr="81.2.69.0/24", geofeed=feeds.url("/foreign.csv"))
    assert not [e for e in _discovery(client).evidence("8.8.8.8", foreign) if e.place]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/page.html", "an HTML page (text/html"),
        ("/sneaky.csv", "an HTML page, not a geofeed CSV"),
        ("/cut.csv", "download cut short (truncated)"),
        ("/other-host.csv", "redirect to another host (localhost) refused"),
        ("/missing.csv", "HTTP 404"),
    ],
)
def test_unusable_feeds_say_why(
    feeds: FeedServer, client: httpx.Client, path: str, why: str
) -> None:
    registration = _registration(feeds, client, path)
    (line,) = _discovery(client).evidence("81.2.69.10", registration)
    assert line.place is None
    assert line.note.startswith("RFC 9092 geofeed not used: ")
    assert why in line.note


@pytest.mark.parametrize("path", ["/big.csv", "/endless.csv"])
def test_oversized_feed_is_not_read(feeds: FeedServer, client: httpx.Client, path: str) -> None:
    registration = _registration(feeds, client, path)
    (line,) = _discovery(client, max_bytes=64 * 1024).evidence("81.2.69.10", registration)
    assert "larger than 64 KiB" in line.note
    assert line.place is None


def test_stalled_server_times_out(feeds: FeedServer, client: httpx.Client) -> None:
    import time

    registration = _registration(feeds, client, "/stall.csv")
    started = time.monotonic()
    (line,) = _discovery(client, timeout=0.5).evidence("81.2.69.10", registration)
    assert time.monotonic() - started < 3
    assert "within 0.5s" in line.note
    assert line.place is None


def test_same_host_redirect_is_followed(feeds: FeedServer, client: httpx.Client) -> None:
    registration = _registration(feeds, client, "/same-host.csv")
    (found,) = _discovery(client).evidence("81.2.69.10", registration)
    assert found.place == Place("DE", "DE-BE", "Berlin")


def test_fetched_feed_is_cached_by_url_with_its_date(
    feeds: FeedServer, client: httpx.Client, tmp_path: Path
) -> None:
    registration = _registration(feeds, client, "/good.csv")
    cache = SqliteRdapCache(tmp_path / "rdap.sqlite3")
    before = feeds.requests.count("/good.csv")
    first = GeofeedDiscovery(client, cache, allow_local=True).evidence("81.2.69.10", registration)
    cache.close()
    reopened = SqliteRdapCache(tmp_path / "rdap.sqlite3")
    again = GeofeedDiscovery(client, reopened, allow_local=True)
    second = again.evidence("81.2.69.10", registration)
    reopened.close()
    assert feeds.requests.count("/good.csv") == before + 1
    assert again.fetches == 0
    assert first == second
