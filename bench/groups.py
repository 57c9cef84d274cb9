"""Benchmark: grouping an audit's endpoints (controller, registrable domain) against the JSON
report of the same audit, measured in one run on the same results.

``endpoint_groups`` runs once per batch audit (in ``Auditor.assemble_result``); the figure
that matters is its cost beside what every audit already pays to report. Names are
synthetic but realistic (many subdomains of a few hundred registrable domains, some
multi-label suffixes, some IP literals), so the PSL lookup cache sees what it would.

    .venv/bin/python bench/groups.py [--endpoints 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import replace

from residency.audit.groups import endpoint_groups
from residency.endpoints.domain import registrable_domain
from residency.model import (
    AuditResult,
    Confidence,
    Controller,
    Endpoint,
    EndpointResult,
    IpFacts,
    Location,
    Place,
)
from residency.report import OutputFormat, render

SUFFIXES = ["com", "co.uk", "com.cn", "in", "de", "co.in", "io"]
COUNTRIES = ["IN", "SG", "US", "DE", "CN", "GB"]


def results(count: int, seed: int = 7) -> list[EndpointResult]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        if n % 50 == 0:
            host, is_ip = f"198.51.{n % 256}.{n // 256 % 256}", True
        else:
            domain = f"brand{rng.randrange(300)}.{rng.choice(SUFFIXES)}"
            host, is_ip = f"api{n}.svc{rng.randrange(9)}.{domain}", False
        country = rng.choice(COUNTRIES)
        facts = IpFacts(
            f"203.0.{n % 256}.{n // 256 % 256}",
            True,
            Location(Place(country), Confidence.HIGH, "provider-feed"),
        )
        owner = f"Owner {rng.randrange(40)} Ltd."
        controller = Controller(owner, country, "OV certificate", Confidence.MEDIUM)
        out.append(
            EndpointResult(Endpoint(host, host, is_ip=is_ip), (), (facts,), controller=controller)
        )
    return out


def best(repeat: int, work: object) -> float:
    assert callable(work)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    made = results(args.endpoints)
    audit = AuditResult("bench", "2026-12-02T00:00:00Z", "2026-12-02T00:00:01Z", tuple(made), ())
    registrable_domain.cache_clear()
    began = time.perf_counter()
    groups = endpoint_groups(made)
    cold = time.perf_counter() - began
    warm = best(args.repeat, lambda: endpoint_groups(made))
    grouped = replace(audit, groups=groups)
    # interleaved, best of each: the machine is shared, so the two see the same noise
    report, with_groups = float("inf"), float("inf")
    for _ in range(args.repeat):
        report = min(report, best(1, lambda: render(audit, OutputFormat.JSON)))
        with_groups = min(with_groups, best(1, lambda: render(grouped, OutputFormat.JSON)))
    print(f"grouping {args.endpoints} endpoints ({len(groups)} groups), best of {args.repeat}")
    print(f"  baseline: JSON report without groups      {report * 1000:8.1f} ms")
    print(
        f"  JSON report with its groups section       {with_groups * 1000:8.1f} ms"
        f"  ({with_groups / report:.2f}x)"
    )
    print(
        f"  endpoint_groups, PSL cache cold           {cold * 1000:8.1f} ms"
        f"  ({cold / report:.2f}x the report)"
    )
    print(
        f"  endpoint_groups, PSL cache warm           {warm * 1000:8.1f} ms"
        f"  ({warm / report:.2f}x the report)"
    )


if __name__ == "__main__":
    main()
