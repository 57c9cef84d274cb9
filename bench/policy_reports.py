"""Benchmark: judging an audit against a policy, and rendering every report format.

Prints, side by side and measured in the same run:
- ``evaluate``: ``residency.policy.apply_policy`` over N endpoints (one address each, a mix of
  provider-feed, GeoIP, CDN, unknown and waived cases) against a policy with scoped rules;
- ``baseline``: the least any judge must do: a set lookup of each address's country;
- each report format, against ``json.dumps(dataclasses.asdict(result))`` as the baseline of
  "just serialise the result".

    .venv/bin/python bench/policy_reports.py [--endpoints 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Callable
from datetime import date

from residency.model import (
    AuditResult,
    Confidence,
    DataVersion,
    Endpoint,
    EndpointResult,
    Evidence,
    EvidenceKind,
    IpFacts,
    Location,
    Operator,
    Outcome,
    Place,
    Resolution,
    ResolvedAddress,
    Verdict,
)
from residency.policy import apply_policy, parse_policy
from residency.report import OutputFormat, render

POLICY = """
name = "bench"
version = "1"
cdn = "warn"
[countries]
allow = ["@EEA", "IN"]
[operator_jurisdictions]
deny = ["CN"]
[[categories]]
name = "payments"
hosts = ["pay*"]
[[rules]]
name = "payments"
categories = ["payments"]
cdn = "fail"
[rules.countries]
allow = ["IN"]
[[rules]]
name = "analytics"
hosts = ["analytics*.example"]
[rules.countries]
allow = ["@GDPR_SAFE"]
[[waivers]]
host = "legacy1*.example"
justification = "bench"
owner = "bench"
expires = 2030-01-01
"""
COUNTRIES = ["DE", "IN", "US", "FR", "SG", "IE", "CH", "JP"]
PREFIXES = ["www", "pay", "analytics", "legacy", "api", "cdn"]


def build(count: int) -> AuditResult:
    endpoints = []
    for index in range(count):
        host = f"{PREFIXES[index % len(PREFIXES)]}{index}.example"
        ip = f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"
        country = COUNTRIES[index % len(COUNTRIES)] if index % 17 else None
        cdn = host.startswith("cdn")
        facts = IpFacts(
            ip=ip,
            routable=True,
            location=Location(
                Place(country) if country and not cdn else None,
                Confidence.MEDIUM if country else Confidence.NONE,
                "geoip-consensus" if country else "none",
                why="" if country else "no source covers it",
            ),
            cdn=cdn,
            provider="cloudflare" if cdn else None,
            evidence=(
                Evidence(
                    "geoip:dbip",
                    EvidenceKind.GEOIP,
                    "2026-11",
                    place=Place(country) if country else None,
                ),
            ),
            operator=Operator("x", "X Inc.", "US", basis="asn"),
        )
        endpoints.append(
            EndpointResult(
                endpoint=Endpoint(host, host),
                resolutions=(
                    Resolution(host, Outcome.RESOLVED, addresses=(ResolvedAddress(ip, 60, "A"),)),
                ),
                facts=(facts,),
            )
        )
    return AuditResult(
        run_id="bench",
        started="2026-11-28T00:00:00Z",
        finished="2026-11-28T00:01:00Z",
        endpoints=tuple(endpoints),
        data_versions=(DataVersion("dbip-country-lite", "2026-11"),),
    )


def best(repeat: int, work: Callable[[], object]) -> float:
    fastest = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    today = date(2026, 11, 28)
    audit = build(args.endpoints)
    policy = parse_policy(POLICY, "bench.toml")
    allowed = frozenset({"DE", "FR", "IE", "IN"})

    def baseline() -> list[Verdict]:
        return [
            Verdict.PASS if (f.location.country in allowed) else Verdict.FAIL
            for e in audit.endpoints
            for f in e.facts
        ]

    judged = apply_policy(policy, audit, today)
    n = args.endpoints
    print(f"{n} endpoints, best of {args.repeat}")
    print(f"{'work':<22}{'seconds':>10}{'endpoints/s':>14}{'output MB':>11}")
    t_eval = best(args.repeat, lambda: apply_policy(policy, audit, today))
    t_base = best(args.repeat, baseline)
    print(f"{'evaluate (residency)':<22}{t_eval:>10.3f}{n / t_eval:>14,.0f}{'':>11}")
    print(f"{'baseline: set lookup':<22}{t_base:>10.3f}{n / t_base:>14,.0f}{'':>11}")
    asdict_json = json.dumps(dataclasses.asdict(judged), default=str)
    t_dump = best(args.repeat, lambda: json.dumps(dataclasses.asdict(judged), default=str))
    print(
        f"{'baseline: asdict+json':<22}{t_dump:>10.3f}{n / t_dump:>14,.0f}"
        f"{len(asdict_json) / 1e6:>11.1f}"
    )
    for fmt in OutputFormat:
        text = render(judged, fmt)
        elapsed = best(args.repeat, lambda fmt=fmt: render(judged, fmt))
        print(
            f"{'report ' + fmt.value:<22}{elapsed:>10.3f}{n / elapsed:>14,.0f}"
            f"{len(text.encode()) / 1e6:>11.1f}"
        )


if __name__ == "__main__":
    main()
