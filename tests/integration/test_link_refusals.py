"""Links taken from answers (RFC 9092 geofeeds, domain RDAP ``related``) never reach
loopback, by any spelling or through a name that resolves there (issue 18, items 17, 18).
Real servers on 127.0.0.1; the name resolution goes through residency.http's resolver seam."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from residency.http import Fetcher, system_resolver
from residency.locate.registration.domain_rdap import DomainRdapLookup
from residency.locate.registration.geofeed_discovery import FeedUnusable, GeofeedDiscovery
from tests.integration.feedserver import FeedServer, csv_route
from tests.integration.rdapserver import RdapServer
from tests.locate import domain_fixtures as fx

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FEED = b"81.2.69.0/24,GB,GB-ENG,London,\n"


def _resolver(names: dict[str, str]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> Sequence[str]:
        return (names[host],) if host in names else system_resolver(host, port)

    return resolve


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer({"/feed.csv": csv_route(FEED), "/domain/acme.com": csv_route(b"{}")})
    yield server
    server.stop()


@pytest.mark.parametrize(
    "host", ["feed.example", "127.1", "2130706433", "0x7f000001", "0", "[::1]", "localhost.example"]
)
def test_a_geofeed_that_resolves_to_loopback_is_refused(feeds: FeedServer, host: str) -> None:
    resolve = _resolver({"feed.example": "127.0.0.1", "localhost.example": "::ffff:127.0.0.1"})
    with Fetcher(resolver=resolve) as fetcher:
        discovery = GeofeedDiscovery(fetcher)
        found = discovery.feed(f"https://{host}:{feeds.port}/feed.csv")
    assert isinstance(found, FeedUnusable)
    assert "refused" in found.reason
    assert (
        "loopback" in found.reason
        or "unspecified" in found.reason
        or "non-public" in (found.reason)
    )
    assert feeds.requests == []


def test_the_same_geofeed_is_used_when_local_addresses_are_allowed(feeds: FeedServer) -> None:
    """The control: the refusal above is the address rule, not a broken server."""
    resolve = _resolver({"feed.example": "127.0.0.1"})
    with Fetcher(local=True, resolver=resolve) as fetcher:
        discovery = GeofeedDiscovery(fetcher, allow_local=True)
        found = discovery.feed(f"http://feed.example:{feeds.port}/feed.csv")
    assert not isinstance(found, FeedUnusable)
    assert found.rows[0][:2] == ("81.2.69.0/24", "GB")
    assert feeds.requests == ["/feed.csv"]


@pytest.fixture
def registry() -> Iterator[RdapServer]:
    rdap = RdapServer([], domains={})
    yield rdap
    rdap.stop()


@pytest.mark.parametrize(
    "registrar",
    [
        "https://127.0.0.1/domain/acme.com",
        "https://[::1]/domain/acme.com",
        "https://registrar.example:{port}/domain/acme.com",
        "https://127.0.0.1:{port}/domain/acme.com",
    ],
)
def test_a_related_link_to_loopback_is_refused(
    registry: RdapServer, feeds: FeedServer, registrar: str
) -> None:
    link = registrar.format(port=feeds.port)
    registry.domains["acme.com"] = fx.thin("acme.com", link)
    resolve = _resolver({"registrar.example": "127.0.0.1"})
    with Fetcher(resolver=resolve) as fetcher:
        # the configured registry server is local and trusted; the link it gives is not
        lookup = DomainRdapLookup.open(None, registry.base_url, timeout=5.0, fetcher=fetcher)
        found = lookup.lookup("www.acme.com")
    assert found.status == "unknown"
    assert "registrar's RDAP" in found.reason
    assert "refused" in found.reason and "loopback" in found.reason
    assert found.org is None
    assert feeds.requests == []  # the "registrar" on 127.0.0.1 was never asked
