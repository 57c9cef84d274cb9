"""Benchmark and measure: control evidence (entity tables, parent chains, customer
domains, sovereign clouds) beside the same audit without it, in one run.

1. coverage: the real HAR in ../shared/data/har audited without re-resolution
   (``--no-resolve``: its observed addresses) with the entity tables from
   ../shared/data/entities; the share of third-party hosts that get a named controller
   with a country, and whether any customer-domain host got its provider as controller.
   Baseline: the same audit without control evidence (what main gives: no controller).
2. cost: 20,000 names (tracker domains from the tables and their subdomains, customer
   names under shared domains, unknown names), each with an observed address, audited
   with and without control evidence; the extra cost per endpoint against the audit.

    .venv/bin/python bench/control.py [--names 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from residency.audit.core import Auditor
from residency.control.compiled import CompiledEntities
from residency.control.entities import TableInfo, index_of, parse_files
from residency.control.evidence import ControlEvidence
from residency.endpoints import read_input
from residency.endpoints.domain import registrable_domain
from residency.locate.locator import Locator
from residency.model import Endpoint, ObservedAddress

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


def names(evidence: ControlEvidence, count: int, seed: int = 11) -> list[Endpoint]:
    rng = random.Random(seed)
    known = sorted(evidence.entities.domains)
    out = []
    for n in range(count):
        kind = n % 4
        if kind == 0:
            host = f"x{n}.{rng.choice(known)}"
        elif kind == 1:
            host = rng.choice(known)
        elif kind == 2:
            host = f"d{n:x}q.{rng.choice(['cloudfront.net', 'herokuapp.com', 'azureedge.net'])}"
        else:
            host = f"api{n}.brand{rng.randrange(3000)}.example.com"
        net = rng.choice(["3.120", "34.64", "13.69", "104.16", "81.2"])
        ip = f"{net}.{n % 256}.{n // 256 % 256}"
        out.append(Endpoint(host, host, observed=(ObservedAddress(ip, None, "bench"),)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
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
    batch = names(evidence, args.names)
    Auditor(None, locator).audit(batch[:500])  # warm the locator's caches for both arms
    # CPU time of this process: on a shared machine wall-clock time measures the
    # neighbours (this machine runs many jobs on 2 cores); both are printed.
    cpu: dict[str, list[float]] = {"baseline": [], "control": []}
    wall: dict[str, list[float]] = {"baseline": [], "control": []}
    for _ in range(args.repeat):
        for arm in ("baseline", "control"):
            control = None
            if arm == "control":
                control = ControlEvidence(
                    evidence.organisations,
                    evidence.suffixes,
                    evidence.sovereign,
                    compiled=evidence.compiled,
                )  # fresh per-host caches, as a new run that finds the tables merged
            began, began_cpu = time.perf_counter(), time.process_time()
            Auditor(None, locator, control=control).audit(batch)
            cpu[arm].append(time.process_time() - began_cpu)
            wall[arm].append(time.perf_counter() - began)
    for label, times in (("CPU", cpu), ("wall", wall)):
        base, with_control = min(times["baseline"]), min(times["control"])
        extra = with_control - base
        print(
            f"cost ({label} time), {args.names} names, best of {args.repeat}: baseline "
            f"{base:.3f}s ({1e6 * base / args.names:.1f} µs/name), with control "
            f"{with_control:.3f}s; extra {1e6 * extra / args.names:.1f} µs/name = "
            f"{100 * extra / base:.1f}% of the audit"
        )
    print(
        "reading the merged tables once per run: "
        f"{100 * read_seconds / min(wall['baseline']):.1f}% of the baseline audit's wall time"
    )


if __name__ == "__main__":
    main()
