"""Benchmark: registration facts for 100,000 addresses from a warm RDAP CIDR cache.

Prints, side by side and measured in the same run:
- the lookup rate of ``RdapLookup.lookup`` on a warm CIDR cache, of the bare cache,
  of a dict keyed by exact address (the naive cache) and of a linear scan over the
  cached networks (the naive CIDR cache);
- how many RDAP queries a cold run makes with the CIDR cache, against one per
  distinct address for the exact-address cache: the queries the CIDR cache saves.

Runs offline: the RDAP service is an ``httpx.MockTransport`` that answers like a
registry with the network covering each address.

    .venv/bin/python bench/rdap.py [--addresses 100000] [--networks 2000]
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from residency.locate.registration.rdap_cache import MemoryRdapCache, SqliteRdapCache
from residency.locate.registration.rdap_client import RdapLookup
from residency.model import Registration

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def make_networks(count: int, rng: random.Random) -> list[Network]:
    """Disjoint public networks of registry-like sizes (/12../24 IPv4, /32../48 IPv6)."""
    networks: list[Network] = []
    used: set[int] = set()
    while len(networks) < count:
        if rng.random() < 0.8:
            prefix = rng.choice([12, 14, 16, 16, 18, 20, 22, 24])
            first_octet = rng.choice([3, 8, 13, 20, 34, 52, 74, 104, 142, 185, 203])
            block = rng.randrange(0, 1 << 8)  # one network per /16 keeps them disjoint
            key = (first_octet << 8) | block
            if key in used:
                continue
            used.add(key)
            base = ipaddress.IPv4Address((first_octet << 24) | (block << 16))
            length = max(prefix, 16)
            networks.append(ipaddress.IPv4Network(f"{base}/{length}"))
        else:
            base6 = (0x2001_4000 + rng.randrange(0, 1 << 12)) << 96
            key = base6 >> 96
            if key in used:
                continue
            used.add(key)
            networks.append(ipaddress.IPv6Network((base6, rng.choice([32, 36, 40, 48]))))
    return networks


def make_addresses(networks: Sequence[Network], count: int, rng: random.Random) -> list[str]:
    """Addresses in a few busy networks, like an app's endpoints on a handful of clouds."""
    weights = [1.0 / (rank + 1) for rank in range(len(networks))]  # Zipf-like
    chosen = rng.choices(networks, weights=weights, k=count)
    result = []
    for net in chosen:
        while True:  # a /16 may hold a documentation range; RDAP is not asked about those
            address = net.network_address + rng.randrange(1, min(net.num_addresses, 1 << 24) - 1)
            if address.is_global:
                result.append(str(address))
                break
    return result


def registry_transport(networks: Sequence[Network]) -> tuple[httpx.MockTransport, list[int]]:
    """A fake RIR: answers /ip/<address> with the covering network as RDAP JSON."""
    queries = [0]
    by_version: dict[int, list[Network]] = {
        4: [n for n in networks if n.version == 4],
        6: [n for n in networks if n.version == 6],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        queries[0] += 1
        address = ipaddress.ip_address(request.url.path.rsplit("/", 1)[1])
        for net in by_version[address.version]:
            if address in net:
                return httpx.Response(
                    200,
                    json={
                        "objectClassName": "ip network",
                        "handle": f"NET-{net.network_address}",
                        "startAddress": str(net.network_address),
                        "endAddress": str(net.broadcast_address),
                        "ipVersion": f"v{net.version}",
                        "name": f"BENCH-{net.network_address}",
                        "country": "US",
                        "port43": "whois.arin.net",
                    },
                )
        return httpx.Response(404)

    return httpx.MockTransport(handler), queries


def rate(func: Callable[[Any], object], addresses: Sequence[Any]) -> tuple[float, float]:
    started = time.perf_counter()
    for address in addresses:
        func(address)
    elapsed = time.perf_counter() - started
    return len(addresses) / elapsed, elapsed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=100_000)
    parser.add_argument("--networks", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    networks = make_networks(args.networks, rng)
    addresses = make_addresses(networks, args.addresses, rng)
    distinct = len(set(addresses))

    # Cold run: fill the CIDR cache through the RDAP path, counting real queries.
    transport, served = registry_transport(networks)
    with httpx.Client(transport=transport) as client:
        lookup = RdapLookup(client, "https://rdap.bench", MemoryRdapCache())
        started = time.perf_counter()
        for address in addresses:
            lookup.lookup(address)
        cold_elapsed = time.perf_counter() - started
        cidr_queries = served[0]
        assert lookup.stats.known == len(addresses), lookup.stats

        # Warm run: the same 100,000 addresses again, all from the cache.
        warm_rate, warm_elapsed = rate(lookup.lookup, addresses)
        assert served[0] == cidr_queries
    cache = lookup.cache
    parsed = [(a.version, int(a)) for a in map(ipaddress.ip_address, addresses)]
    cache_rate, _ = rate(lambda key: cache.find(*key), parsed)

    # Baseline 1: cache keyed by exact address (what a per-IP memo gives you).
    exact: dict[str, Registration] = {a: Registration(status="known") for a in addresses}
    exact_rate, _ = rate(exact.__getitem__, addresses)

    # Baseline 2: CIDR cache without an index: scan the cached networks per address.
    cached_networks = [(n, Registration(status="known")) for n in networks]

    def scan(address: str) -> Registration | None:
        ip = ipaddress.ip_address(address)
        for net, registration in cached_networks:
            if ip.version == net.version and ip in net:
                return registration
        return None

    sample = addresses[: max(1, len(addresses) // 50)]
    scan_rate, _ = rate(scan, sample)

    # Persistent cache: write the answers to SQLite, then time reopening it.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rdap.sqlite3"
        disk = SqliteRdapCache(path)
        for net in networks:
            disk.put(net.network_address, net.broadcast_address, Registration(status="known"))
        disk.close()
        started = time.perf_counter()
        reopened = SqliteRdapCache(path)
        reopen_ms = (time.perf_counter() - started) * 1000
        disk_rate, _ = rate(lambda key: reopened.find(*key), parsed)
        reopened.close()

    def row(label: str, value: float | str, note: str = "") -> None:
        shown = value if isinstance(value, str) else f"{value:,.0f}"
        print(f"{label:<46}{shown:>14}" + (f"   {note}" if note else ""))

    print(
        f"RDAP cache benchmark: {len(addresses):,} addresses ({distinct:,} distinct) "
        f"in {len(networks):,} cached networks"
    )
    print()
    row("RDAP queries (cold run)", "queries")
    row("  CIDR cache (this project)", cidr_queries)
    row("  baseline: exact-address cache", distinct)
    row("  baseline: no cache", len(addresses))
    row("  saved by the CIDR cache vs exact-address", distinct - cidr_queries)
    row("  saved by the CIDR cache vs no cache", len(addresses) - cidr_queries)
    print()
    row("warm lookups", "lookups/s")
    row(
        "  RdapLookup.lookup, warm CIDR cache",
        warm_rate,
        f"({warm_elapsed:.2f}s for {len(addresses):,})",
    )
    row("  CIDR index alone (pre-parsed addresses)", cache_rate)
    row("  SQLite CIDR index after reopen (pre-parsed)", disk_rate, f"(reopen {reopen_ms:.0f} ms)")
    row("  baseline: dict by exact address", exact_rate)
    row("  baseline: linear scan of cached networks", scan_rate, f"(sampled {len(sample):,})")
    print()
    print(f"cold run (through the RDAP path, mock registry): {cold_elapsed:.2f}s")


if __name__ == "__main__":
    main()
