"""RFC 9092 geofeed discovery: the geofeed a network's RDAP registration links.

With ``--rdap``, a registration may name a geofeed (RDAP ``links`` rel "geo", or a
``Geofeed https://...`` remark). Where no provider feed decides an address, that CSV
is fetched (time cap, size cap, streamed; an HTML page is refused), parsed as RFC 8805
by the geofeed parser, and checked for ownership as geolocation providers check it:
only entries inside the network whose registration links the feed count (RFC 9092
section 4); the others are dropped with one evidence line naming the feed and an entry.

Fetched feeds are cached beside the RDAP answers (the cache's key-value entries),
keyed by URL, with the fetch date. A feed that cannot be used is one evidence line
"not used: <why>" and is not fetched again in the same run.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from residency.errors import ResidencyError
from residency.model import Evidence, EvidenceKind, IpFacts, Place, Registration
from residency.timefmt import utc_iso

if TYPE_CHECKING:
    # httpx (which pulls in rich), the parsers and sqlite are imported where a feed is
    # fetched or parsed; ``residency ip`` without --rdap does not import this module.
    import httpx

    from residency.http import Fetcher
    from residency.locate.registration.rdap_cache import KvCache

#: A geofeed of a large network is a few MB; past this it is not read (RFC 9092 feeds
#: are fetched whole, so the cap bounds memory too).
MAX_FEED_BYTES = 16 * 1024 * 1024
#: Seconds one feed fetch may take, redirects and a slow body included.
FEED_TIMEOUT = 10.0
#: Redirects followed, and only on the feed's own scheme, host and port.
MAX_REDIRECTS = 3
#: How long a fetched feed is reused (RFC 8805 feeds change rarely; a day is polite).
FEED_TTL = 24 * 3600.0
CACHE_NAMESPACE = "geofeed"
SOURCE_PREFIX = "geofeed"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class DiscoveredFeed:
    """A fetched and parsed geofeed: its rows as (prefix, country, subdivision, city)."""

    url: str
    fetched: str  # ISO-8601 UTC
    version: str
    rows: tuple[tuple[str, str | None, str | None, str | None], ...]
    notes: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "url": self.url,
                "fetched": self.fetched,
                "version": self.version,
                "rows": [list(r) for r in self.rows],
                "notes": list(self.notes),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> DiscoveredFeed | None:
        """A cached feed, or None for an entry this version cannot read."""
        try:
            data = json.loads(text)
            rows = tuple(
                (str(r[0]), r[1] or None, r[2] or None, r[3] or None) for r in data["rows"]
            )
            return cls(
                str(data["url"]),
                str(data["fetched"]),
                str(data["version"]),
                rows,
                tuple(str(n) for n in data.get("notes", ())),
            )
        except (ValueError, KeyError, TypeError, IndexError):
            return None


@dataclass(frozen=True)
class FeedUnusable:
    """A linked geofeed that could not be used, and why (one line)."""

    url: str
    reason: str


class _OwnedFeed:
    """One feed's rows inside one linking network, indexed for longest-prefix match."""

    def __init__(self, feed: DiscoveredFeed, owners: Sequence[Network]) -> None:
        self.feed = feed
        self.by_length: dict[tuple[int, int], dict[int, tuple[str, Place | None]]] = {}
        self.outside: list[str] = []
        for prefix, country, sub, city in feed.rows:
            network = ipaddress.ip_network(prefix, strict=False)
            if not any(
                network.version == o.version and network.subnet_of(o)  # type: ignore[arg-type]
                for o in owners
            ):
                self.outside.append(prefix)
                continue
            place = Place(country, sub, city) if country else None
            key = (network.version, network.prefixlen)
            self.by_length.setdefault(key, {})[int(network.network_address)] = (prefix, place)
        self.lengths = sorted(self.by_length, key=lambda k: -k[1])

    def match(
        self, address: ipaddress.IPv4Address | ipaddress.IPv6Address
    ) -> tuple[str, Place | None] | None:
        bits = address.max_prefixlen
        for version, length in self.lengths:
            if version != address.version:
                continue
            mask = ((1 << length) - 1) << (bits - length) if length else 0
            found = self.by_length[(version, length)].get(int(address) & mask)
            if found is not None:
                return found
        return None


def owning_networks(registration: Registration) -> tuple[Network, ...]:
    """The networks a registration covers (its ``cidr``, comma-separated)."""
    out: list[Network] = []
    for part in (registration.cidr or "").split(","):
        try:
            out.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            continue
    return tuple(out)


class GeofeedDiscovery:
    """Fetches, caches and applies the geofeeds RDAP registrations link.

    ``allow_local`` lets a feed be served over plain http from a loopback or private
    address (tests); by default a feed must be https (RFC 9092 section 3) at a host
    whose every address is public (``residency.http`` checks the resolved addresses and
    connects to the one it checked), so a registration cannot point the auditor at its
    own network.
    """

    def __init__(
        self,
        client: Fetcher | httpx.Client,
        cache: KvCache | None = None,
        *,
        timeout: float = FEED_TIMEOUT,
        max_bytes: int = MAX_FEED_BYTES,
        ttl: float = FEED_TTL,
        allow_local: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from residency.http import Fetcher

        self.client = Fetcher.wrap(client)
        self.cache = cache
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.allow_local = allow_local
        self._clock = clock
        self._feeds: dict[str, DiscoveredFeed | FeedUnusable] = {}
        self._owned: dict[tuple[str, str], _OwnedFeed] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._state = threading.Lock()
        self._owns_client = False
        self.fetches = 0  # feeds fetched over the network (not from a cache)

    @classmethod
    def open(cls, cache: KvCache | None = None, **options: object) -> GeofeedDiscovery:
        """A discovery with its own fetcher, closed by ``close()``; it may reach local
        addresses only with ``allow_local=True``."""
        from residency.http import Fetcher

        client = Fetcher(local=bool(options.get("allow_local", False)))
        found = cls(client, cache, **options)  # type: ignore[arg-type]
        found._owns_client = True
        return found

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    # ----------------------------------------------------------------- public

    def evidence(self, ip: str, registration: Registration | None) -> tuple[Evidence, ...]:
        """What the geofeed linked by ``registration`` says of ``ip``: a placed GEOFEED
        evidence when an owned entry covers it, plus one line each for a feed that could
        not be used or entries dropped for lying outside the linking network."""
        if registration is None or registration.status != "known" or not registration.geofeed:
            return ()
        url = registration.geofeed
        feed = self.feed(url)
        if isinstance(feed, FeedUnusable):
            return (self._line(url, "", f"RFC 9092 geofeed not used: {feed.reason}"),)
        owners = owning_networks(registration)
        owner_text = registration.cidr or "?"
        if not owners:
            return (
                self._line(url, feed.fetched, "RFC 9092 geofeed not used: linking network unknown"),
            )
        owned = self._owned_feed(feed, owner_text, owners)
        out: list[Evidence] = []
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return ()
        found = owned.match(address)
        if found is not None:
            prefix, place = found
            via = registration.handle or registration.network_name or owner_text
            out.append(
                Evidence(
                    source=f"{SOURCE_PREFIX} {url}",
                    kind=EvidenceKind.GEOFEED,
                    version=f"fetched {feed.fetched}",
                    prefix=prefix,
                    place=place,
                    note=f"RFC 9092, linked by RDAP {via}"
                    + ("" if place else "; the feed gives this prefix no location"),
                )
            )
        if owned.outside:
            count = len(owned.outside)
            plural = "entries" if count != 1 else "entry"
            out.append(
                self._line(
                    url,
                    feed.fetched,
                    f"{count} {plural} outside {owner_text}, the network linking the feed,"
                    f" dropped (ownership check), e.g. {owned.outside[0]}",
                )
            )
        return tuple(out)

    def feed(self, url: str) -> DiscoveredFeed | FeedUnusable:
        """The feed at ``url``: this run's copy, the cache's, or fetched now."""
        with self._state:
            known = self._feeds.get(url)
            lock = self._locks.setdefault(url, threading.Lock())
        if known is not None:
            return known
        with lock:  # addresses of one network arriving together fetch its feed once
            with self._state:
                known = self._feeds.get(url)
            if known is not None:
                return known
            found: DiscoveredFeed | FeedUnusable | None = self._cached(url)
            if found is None:
                found = self._fetch(url)
                if isinstance(found, DiscoveredFeed) and self.cache is not None:
                    # a cache that cannot be written costs speed only
                    with contextlib.suppress(ResidencyError):
                        self.cache.kv_put(CACHE_NAMESPACE, url, found.to_json(), self.ttl)
            with self._state:
                self._feeds[url] = found
            return found

    # -------------------------------------------------------------- internals

    @staticmethod
    def _line(url: str, fetched: str, note: str) -> Evidence:
        return Evidence(
            source=f"{SOURCE_PREFIX} {url}",
            kind=EvidenceKind.GEOFEED,
            version=f"fetched {fetched}" if fetched else "",
            note=note,
        )

    def _owned_feed(
        self, feed: DiscoveredFeed, owner_text: str, owners: Sequence[Network]
    ) -> _OwnedFeed:
        key = (feed.url, owner_text)
        with self._state:
            owned = self._owned.get(key)
        if owned is None:
            owned = _OwnedFeed(feed, owners)
            with self._state:
                self._owned[key] = owned
        return owned

    def _cached(self, url: str) -> DiscoveredFeed | None:
        if self.cache is None:
            return None
        try:
            text = self.cache.kv_get(CACHE_NAMESPACE, url)
        except ResidencyError:  # an unreadable cache means fetching again
            return None
        found = DiscoveredFeed.from_json(text) if text is not None else None
        return found if found is not None and found.url == url else None

    def _refused(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, or None."""
        import httpx

        try:
            where = httpx.URL(url)
        except httpx.InvalidURL:
            return "not a URL"
        if not where.host:
            return "no host in the URL"
        if self.allow_local:
            return None if where.scheme in ("http", "https") else "not an http(s) URL"
        if where.scheme != "https":
            return "not https (RFC 9092 requires an https URL)"
        host = where.host.lower().strip("[]")
        if host == "localhost" or host.endswith(".localhost"):
            return "a local host"
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return None
        return None if literal.is_global else "a non-public address"

    def _fetch(self, url: str) -> DiscoveredFeed | FeedUnusable:
        refused = self._refused(url)
        if refused:
            return FeedUnusable(url, f"{url} refused: {refused}")
        from residency.http import (
            FetchError,
            FetchRefused,
            FetchTimedOut,
            FetchTooLarge,
            Limits,
            same_origin,
        )

        limits = Limits(
            deadline=self.timeout,
            max_bytes=self.max_bytes,
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            max_redirects=MAX_REDIRECTS,
        )
        try:
            response = self.client.get(
                url,
                limits,
                headers={"Accept": "text/csv, application/geofeed+csv;q=0.9, */*;q=0.1"},
                redirects=same_origin,
            )
        except FetchTooLarge as err:
            limit = _size(self.max_bytes)
            return FeedUnusable(url, f"larger than {limit}: not read ({err.reason})")
        except FetchTimedOut as err:
            return FeedUnusable(url, f"not fetched within {self.timeout:g}s ({err.reason})")
        except FetchRefused as err:
            return FeedUnusable(url, f"{err.url} refused: {err.reason}")
        except FetchError as err:
            return FeedUnusable(url, err.reason)
        if response.status_code != 200:
            return FeedUnusable(url, f"HTTP {response.status_code}")
        ctype = response.headers.get("Content-Type", "").lower()
        if "html" in ctype:
            return FeedUnusable(url, f"an HTML page ({ctype}), not a geofeed CSV")
        return self._parse(url, response.body)

    def _parse(self, url: str, body: bytes) -> DiscoveredFeed | FeedUnusable:
        head = body[:512].lstrip().lower()
        if head[:1] == b"<":  # <!doctype, <html, or any markup
            return FeedUnusable(url, "an HTML page, not a geofeed CSV")
        from residency.datasets.errors import FeedInvalid
        from residency.datasets.parsers.geofeed import check_geofeed

        try:
            parsed, _check = check_geofeed(body, dataset=f"{SOURCE_PREFIX} {url}")
        except FeedInvalid as err:
            return FeedUnusable(url, str(err))
        rows = tuple(
            (
                r.network,
                r.place.country if r.place else None,
                r.place.subdivision if r.place else None,
                r.place.city if r.place else None,
            )
            for r in parsed.records
        )
        self.fetches += 1
        return DiscoveredFeed(url, utc_iso(), parsed.version, rows, parsed.notes)


def _size(count: int) -> str:
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"


def locate_with_discovery(
    locate: Callable[..., IpFacts],
    ip: str,
    hints: Sequence[Evidence],
    registration: Registration | None,
    discovery: GeofeedDiscovery | None,
) -> IpFacts:
    """``locate(ip, hints, registration)``, and where no provider feed decides and the
    registration links a geofeed, again with that feed's evidence (ranked as a geofeed)."""
    facts: IpFacts = locate(ip, hints, registration)
    if (
        discovery is None
        or registration is None
        or not registration.geofeed
        or not facts.routable
        or facts.location.basis == "provider-feed"
    ):
        return facts
    extra = discovery.evidence(facts.ip, registration)
    if not extra:
        return facts
    located: IpFacts = locate(ip, hints, registration, extra)
    return located
