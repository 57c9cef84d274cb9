"""Benchmark and measure: control evidence (entity tables, parent chains, customer
domains, sovereign clouds) beside the same audit without it, in one run.

1. coverage: the real HAR in ../shared/data/har audited without re-resolution
   (``--no-resolve``: its observed addresses) with the entity tables from
   ../shared/data/entities; the share of third-party hosts that get a named controller
   with a country, and whether any customer-domain host got its provider as controller.
   Baseline: the same audit without control evidence (what main gives: no controller).
2. cost: the audit of 20,000 names as bench/resolve.py runs it (resolved through a local
   Knot server, located, the JSON report rendered): names under 200 domains the tables
   list, customer names under shared domains, unknown brands; audited with and without
   control evidence, alternately, in one run; the extra cost per endpoint.

    RESIDENCY_DATA_DIR=/tmp/copy .venv/bin/python bench/control.py [--names 20000] [--repeat 3]

(on a copy of the dataset: loading the locator may recompile its index)
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from residency.audit.core import Auditor, paused_gc
from residency.control.compiled import CompiledEntities
from residency.control.entities import TableInfo, index_of, parse_files
from residency.control.evidence import ControlEvidence
from residency.demo.knot import KnotServer, Zone, find_binary
from residency.endpoints import read_input
from residency.endpoints.domain import registrable_domain
from residency.endpoints.normalise import normalise_host
from residency.locate.locator import Locator
from residency.report import OutputFormat, render
from residency.resolve.engine import ChainResolver, ResolverSettings

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WEBXRAY, DISCONNECT = "webxray-domain_owners_2019-12-18.json", "disconnect-%s_2026-08-07.json"
DDG_WEB, DDG_ANDROID = "ddg-web-tds-v6_2025-06-17.json", "ddg-android-tds_2025-06-17.json"
#: the same snapshots the tests use (tests/control/fixtures.py)
TABLES = {
    "entities-webxray": ("webxray", "2019-12-18", [("domain_owners.json", WEBXRAY)]),
    "entities-disconnect": (
        "disconnect",
        "2026-08-07",
        [(f"{kind}.json", DISCONNECT % kind) for kind in ("entities", "services")],
    ),
    "entities-ddg-web": ("duckduckgo-web", "2025-06-17", [("extension-tds.json", DDG_WEB)]),
    "entities-ddg-android": (
        "duckduckgo-android",
        "2025-06-17",
        [("android-tds.json", DDG_ANDROID)],
    ),
}


def load_evidence() -> tuple[ControlEvidence, float]:
    began = time.perf_counter()
    tables = []
    for dataset, (table, version, files) in TABLES.items():
        info = TableInfo(dataset, table, version)
        paths = [(stored, SHARED / "entities" / name) for stored, name in files]
        tables.extend((info, parsed) for parsed in parse_files(dataset, paths))
    evidence = ControlEvidence(entities=index_of(tables))
    return evidence, time.perf_counter() - began


def coverage(locator: Locator, evidence: ControlEvidence) -> None:
    har = SHARED / "har" / "pagexray-ferguson_2022-02-04.har"
    endpoints = read_input(har, "har").endpoints
    first = registrable_domain("www.ferguson.com")
    third = [e for e in endpoints if registrable_domain(e.host) != first]
    for label, control in (
        ("baseline (no control evidence, = main)", None),
        ("with control", evidence),
    ):
        result = Auditor(None, locator, control=control).audit(third)
        named = [
            r for r in result.endpoints
            if r.controller is not None and r.controller.entity and r.controller.country
        ]  # fmt: skip
        customer = [
            r for r in result.endpoints
            if evidence.suffixes.customer_host(r.endpoint.host) is not None
        ]  # fmt: skip
        wrong = [r for r in customer if r.controller is not None and r.controller.entity]
        share = 100 * len(named) / len(third)
        print(
            f"coverage {label}: {len(named)}/{len(third)} third-party hosts = {share:.1f}% "
            f"named with a country; customer-domain hosts {len(customer)}, "
            f"given a controller {len(wrong)}"
        )
        if control is not None:
            for r in result.endpoints:
                if r not in named:
                    why = r.controller.why if r.controller else "no evidence"
                    print(f"  not named: {r.endpoint.host}: {why[:110]}")


ADDRESSES = ("3.120.0.10", "34.64.0.10", "13.69.64.10", "104.16.132.229", "81.2.69.142")


def bench_zones(
    evidence: ControlEvidence, count: int, seed: int = 11
) -> tuple[list[Zone], list[str]]:
    """Zones for 200 domains the tables list, 50 customer suffixes' worth of customer
    names and 50 unknown brands, each answering any name with one address; and ``count``
    names spread over them (a quarter each: subdomains of listed domains, customer names,
    names of unknown brands, listed domains' own hosts)."""
    rng = random.Random(seed)
    listed = rng.sample(sorted(d for d in evidence.compiled.rows if d.count(".") == 1), 200)
    unknown = [f"brand{k}.example" for k in range(50)]
    customer = ["cloudfront.net", "herokuapp.com", "azureedge.net", "github.io", "vercel.app"]
    zones = []
    for k, domain in enumerate([*listed, *unknown, *customer]):
        ip = ADDRESSES[k % len(ADDRESSES)]
        text = "\n".join(
            [
                "$TTL 300",
                "@ SOA ns hostmaster 1 3600 600 86400 60",
                "@ NS ns",
                "ns A 127.0.0.1",
                f"@ A {ip}",
                f"* A {ip}",
            ]
        )
        zones.append(Zone(origin=domain, text=text + "\n"))
    hosts = []
    for n in range(count):
        kind = n % 4
        if kind == 0:
            hosts.append(f"api{n}.{rng.choice(listed)}")
        elif kind == 1:
            hosts.append(f"d{n:x}q.{rng.choice(customer)}")
        elif kind == 2:
            hosts.append(f"api{n}.{rng.choice(unknown)}")
        else:
            hosts.append(f"www{n % 7}.{rng.choice(listed)}")
    return zones, hosts


def timed_audit(
    address: str, locator: Locator, hosts: list[str], control: ControlEvidence | None
) -> tuple[float, float]:
    """One end-to-end audit as bench/resolve.py runs it (resolve through the local server,
    locate, JSON rendered): (CPU seconds of this process, wall seconds)."""
    resolver = ChainResolver(ResolverSettings(nameservers=(address,), timeout=5))
    try:
        began, began_cpu = time.perf_counter(), time.process_time()
        result = Auditor(resolver, locator, control=control).audit(normalise_host(h) for h in hosts)
        with paused_gc():
            render(result, OutputFormat.JSON)
        return time.process_time() - began_cpu, time.perf_counter() - began
    finally:
        resolver.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    locator = Locator.load(None)
    evidence, load_seconds = load_evidence()
    print(
        f"entity tables parsed and merged in {load_seconds:.3f}s (once per data version; "
        "kept in the dataset's compiled/ folder)"
    )
    cache = Path(tempfile.mkdtemp()) / "control.msgpack"
    evidence.compiled.save(cache)
    began = time.perf_counter()
    CompiledEntities.read(cache)
    read_seconds = time.perf_counter() - began
    print(f"reading the merged tables back: {read_seconds:.3f}s per run")
    coverage(locator, evidence)
    if find_binary("knotd") is None:
        print("cost: skipped, knotd (Debian package 'knot') is not installed")
        return
    zones, hosts = bench_zones(evidence, args.names)
    cpu: dict[str, list[float]] = {"baseline": [], "control": []}
    wall: dict[str, list[float]] = {"baseline": [], "control": []}
    with KnotServer(Path(tempfile.mkdtemp(prefix="residency-bench-")) / "knot", zones) as server:
        timed_audit(server.address, locator, hosts[:2000], None)  # warm up both sides
        for repeat in range(args.repeat):
            # ABBA: every other repeat runs the control arm first, so neither arm always
            # runs second (after the other's report was freed) or first in a pair
            for arm in ("baseline", "control")[:: 1 if repeat % 2 == 0 else -1]:
                control = None
                if arm == "control":
                    control = ControlEvidence(
                        evidence.organisations,
                        evidence.suffixes,
                        evidence.sovereign,
                        compiled=evidence.compiled,
                    )  # fresh per-host caches, as a new run that finds the tables merged
                spent, took = timed_audit(server.address, locator, hosts, control)
                cpu[arm].append(spent)
                wall[arm].append(took)
    # CPU time of this process (Knot runs in its own): on a shared machine wall-clock time
    # also measures the neighbours; both are printed.
    for label, times in (("CPU", cpu), ("wall", wall)):
        base, with_control = min(times["baseline"]), min(times["control"])
        extra = with_control - base
        print(
            f"cost ({label} time), audit of {args.names} names through local Knot, JSON "
            f"rendered, best of {args.repeat}: baseline {base:.3f}s "
            f"({1e6 * base / args.names:.1f} µs/name), with control {with_control:.3f}s; "
            f"extra {1e6 * extra / args.names:.1f} µs/name = {100 * extra / base:.1f}% "
            "of the audit"
        )
        # each repeat's pair ran back to back (in alternating order): the median of their
        # ratios is steadier than best against best when the neighbours' load drifts
        paired = sorted(
            100 * (c - b) / b for b, c in zip(times["baseline"], times["control"], strict=True)
        )
        print(
            f"  {label} per repeat (control vs the baseline run beside it): "
            + ", ".join(f"{r:+.1f}%" for r in paired)
            + f"; median {statistics.median(paired):+.1f}%"
        )
    print(
        "reading the merged tables once per run: "
        f"{100 * read_seconds / min(wall['baseline']):.1f}% of the baseline audit's wall time"
    )


if __name__ == "__main__":
    main()
