"""RFC 9092 discovery cost per address, beside merging without it (baseline), in one run.

A 20,000-row feed linked by a /16: the ownership index is built once per (feed, network);
each address then costs one longest-prefix match. Also the one-off cost of parsing the
feed and of the RTT country bound (outline geometry, cached per pair).
"""

from __future__ import annotations

import time

import httpx

from residency.locate.registration.geofeed_discovery import GeofeedDiscovery
from residency.locate.trust.merge import merge_facts
from residency.model import Evidence, EvidenceKind, Place, Registration
from residency.probe.geometry import countries_apart_km, nearest_km

ROWS = 20_000
FEED = "".join(f"81.{n // 256}.{n % 256}.0/24,DE,,Berlin,\n" for n in range(ROWS)).encode()


def main() -> None:
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=FEED))
    )
    registration = Registration(
        status="known", cidr="81.0.0.0/9", geofeed="https://example.net/geofeed.csv"
    )
    discovery = GeofeedDiscovery(client)
    ips = [f"81.{n // 256}.{n % 256}.9" for n in range(ROWS)]
    geoip = [Evidence("geoip:x", EvidenceKind.GEOIP, "1", place=Place("NL"))]

    started = time.perf_counter()
    discovery.evidence(ips[0], registration)  # fetch + parse + ownership index
    first = time.perf_counter() - started

    started = time.perf_counter()
    for ip in ips:
        merge_facts(ip, geoip, registration=registration)
    base = time.perf_counter() - started
    started = time.perf_counter()
    for ip in ips:
        merge_facts(ip, [*geoip, *discovery.evidence(ip, registration)], registration=registration)
    with_feed = time.perf_counter() - started
    print(f"first address (parse {ROWS} rows + index): {first * 1000:.0f} ms")
    print(f"merge only (baseline): {base / ROWS * 1e6:.1f} us/address")
    print(
        f"merge + discovered geofeed: {with_feed / ROWS * 1e6:.1f} us/address"
        f" ({with_feed / base:.2f}x baseline)"
    )
    started = time.perf_counter()
    nearest_km((50.11, 8.68), "US")
    point = time.perf_counter() - started
    started = time.perf_counter()
    countries_apart_km("RU", "US")
    pair = time.perf_counter() - started
    print(f"rtt bound: point->US {point * 1000:.1f} ms, RU<->US {pair * 1000:.1f} ms (then cached)")


if __name__ == "__main__":
    main()
