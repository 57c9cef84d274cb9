"""Benchmark: domain registrants for many hosts under few registrable domains.

Prints, side by side and measured in the same run:
- RDAP queries and wall time of ``DomainRdapLookup`` (one query per registrable domain,
  then its per-run cache) against the baseline of one query per host name;
- the rate of warm lookups (every domain already answered).

Runs offline: the registry is an ``httpx.MockTransport`` answering each domain with the
same registrant object, after ``--latency`` seconds (a registry's round trip).

    .venv/bin/python bench/domain_rdap.py [--hosts 2000] [--domains 50] [--latency 0.002]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from residency.datasets.rdap_bootstrap import bundled_bootstrap
from residency.locate.registration.domain_rdap import DomainRdapLookup

#: A registrant as registries send it (see tests/locate/domain_fixtures.py for more shapes).
KNOWN = {
    "objectClassName": "domain",
    "ldhName": "company.co.uk",
    "entities": [
        {
            "objectClassName": "entity",
            "handle": "C-1",
            "roles": ["registrant"],
            "vcardArray": [
                "vcard",
                [
                    ["version", {}, "text", "4.0"],
                    ["org", {}, "text", "Company Ltd"],
                    ["adr", {"cc": "GB"}, "text", ["", "", "", "London", "", "", ""]],
                ],
            ],
        }
    ],
}


def _client(latency: float, counter: list[int]) -> httpx.Client:
    body = json.dumps(KNOWN).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        counter[0] += 1
        time.sleep(latency)
        return httpx.Response(200, content=body)

    return httpx.Client(transport=httpx.MockTransport(answer))


def run(hosts: list[str], latency: float, per_host: bool) -> tuple[int, float]:
    counter = [0]
    with _client(latency, counter) as client:
        bootstrap = bundled_bootstrap()
        started = time.perf_counter()
        if per_host:  # baseline: a fresh lookup (no cache, no sharing) for every host
            for host in hosts:
                DomainRdapLookup(client, bootstrap, server_url="https://rdap.bench").lookup(host)
        else:
            lookup = DomainRdapLookup(client, bootstrap, server_url="https://rdap.bench")
            with ThreadPoolExecutor(max_workers=32) as pool:  # like the prober's workers
                list(pool.map(lookup.lookup, hosts))
        return counter[0], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--domains", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.002)
    args = parser.parse_args()
    rng = random.Random(13)
    domains = [f"company{n}.co.uk" for n in range(args.domains)]
    hosts = [f"h{n}.{rng.choice(domains)}" for n in range(args.hosts)]

    base_queries, base_time = run(hosts, args.latency, per_host=True)
    queries, elapsed = run(hosts, args.latency, per_host=False)
    print(f"{args.hosts} hosts under {args.domains} registrable domains,", end=" ")
    print(f"{args.latency * 1000:g} ms per query")
    print(f"  one query per host (baseline): {base_queries:6d} queries  {base_time:7.3f} s")
    print(f"  DomainRdapLookup             : {queries:6d} queries  {elapsed:7.3f} s")
    saved = base_queries / max(queries, 1)
    print(f"  queries saved: {saved:.0f}x; time: {base_time / elapsed:.1f}x faster")

    counter = [0]
    with _client(0.0, counter) as client:
        lookup = DomainRdapLookup(client, bundled_bootstrap(), server_url="https://rdap.bench")
        for domain in domains:
            lookup.lookup(domain)
        started = time.perf_counter()
        for host in hosts:
            lookup.lookup(host)
        warm = time.perf_counter() - started
    print(
        f"  warm lookups: {args.hosts / warm:,.0f} hosts/s (no query: {counter[0] == len(domains)})"
    )


if __name__ == "__main__":
    main()
