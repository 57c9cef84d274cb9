"""ONE fixed audit, judged by one policy, that every report format is produced from."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from residency.model import (
    AuditResult,
    ChainStep,
    Confidence,
    DataVersion,
    Endpoint,
    EndpointResult,
    Evidence,
    EvidenceKind,
    InputProblem,
    IpFacts,
    Location,
    Operator,
    Outcome,
    Place,
    Registration,
    Resolution,
    ResolvedAddress,
)
from residency.policy import apply_policy
from tests.policy.factories import policy

TODAY = date(2026, 11, 28)

POLICY = """
name = "shop-residency"
version = "3"
description = "Test policy for the report fixture"
[countries]
allow = ["IN", "@EU"]

[[rules]]
name = "payments"
categories = ["payments"]
[rules.countries]
allow = ["IN"]

[[waivers]]
host = "legacy.shop.example"
justification = "moving to ap-south-1 by March"
owner = "platform-team"
expires = 2027-03-31
"""

AWS = DataVersion(
    "aws-ip-ranges", "2026-08-22-15-17-05", fetched="2026-11-27T10:00:00Z", licence="AWS"
)
DBIP = DataVersion(
    "dbip-country-lite",
    "2026-11",
    fetched="2026-11-27T10:00:00Z",
    origin="https://download.db-ip.com/free/dbip-country-lite-2026-11.mmdb.gz",
    licence="CC-BY-4.0",
    attribution="IP Geolocation by DB-IP",
)


def _geoip(country: str) -> Evidence:
    return Evidence(
        source="geoip:dbip-country-lite",
        kind=EvidenceKind.GEOIP,
        version="2026-11",
        prefix=None,
        place=Place(country),
    )


def _resolution(name: str, *ips: str, chain: tuple[ChainStep, ...] = ()) -> Resolution:
    return Resolution(
        name=name,
        outcome=Outcome.RESOLVED,
        chain=chain,
        addresses=tuple(ResolvedAddress(ip, 60, "A") for ip in ips),
        resolver="127.0.0.1:53",
        when="2026-11-28T09:00:00Z",
    )


def endpoints() -> tuple[EndpointResult, ...]:
    pay_chain = (
        ChainStep("pay.shop.example", "CNAME", "pay-lb.ap-south-1.elb.amazonaws.com", 300),
        ChainStep("pay-lb.ap-south-1.elb.amazonaws.com", "A", "13.232.10.20", 60),
    )
    pay = EndpointResult(
        endpoint=Endpoint(
            "pay.shop.example", "pay.shop.example", "hosts.txt:1", categories=("payments",)
        ),
        resolutions=(_resolution("pay.shop.example", "13.232.10.20", chain=pay_chain),),
        facts=(
            IpFacts(
                ip="13.232.10.20",
                routable=True,
                location=Location(Place("IN", "IN-MH", "Mumbai"), Confidence.HIGH, "provider-feed"),
                asn=16509,
                as_org="AMAZON-02",
                provider="aws",
                region="ap-south-1",
                service="EC2",
                evidence=(
                    Evidence(
                        "aws-ip-ranges",
                        EvidenceKind.PROVIDER_FEED,
                        "2026-08-22-15-17-05",
                        prefix="13.232.0.0/14",
                        place=Place("IN", "IN-MH", "Mumbai"),
                        provider="aws",
                        region="ap-south-1",
                        service="EC2",
                    ),
                    _geoip("IN"),
                ),
                operator=Operator(
                    "aws", "Amazon Web Services, Inc.", "US", "Amazon.com, Inc.", "asn AS16509"
                ),
                registration=Registration(
                    "known",
                    org="Amazon Data Services India",
                    country="IN",
                    rir="apnic",
                    cidr="13.232.0.0/14",
                ),
            ),
        ),
        hints=(
            Evidence("hostname", EvidenceKind.HOSTNAME, "1", provider="aws", region="ap-south-1"),
        ),
    )
    cdn = EndpointResult(
        endpoint=Endpoint("cdn.shop.example", "cdn.shop.example", "hosts.txt:2"),
        resolutions=(_resolution("cdn.shop.example", "104.16.1.1"),),
        facts=(
            IpFacts(
                ip="104.16.1.1",
                routable=True,
                location=Location(None, Confidence.NONE, "provider-feed", why="anycast edge"),
                asn=13335,
                as_org="CLOUDFLARENET",
                provider="cloudflare",
                cdn=True,
                anycast=True,
                evidence=(
                    Evidence(
                        "cloudflare-ips",
                        EvidenceKind.PROVIDER_FEED,
                        "2026-04-21",
                        prefix="104.16.0.0/13",
                        provider="cloudflare",
                        anycast=True,
                    ),
                ),
                operator=Operator("cloudflare", "Cloudflare, Inc.", "US", basis="provider-feed"),
            ),
        ),
    )
    analytics = EndpointResult(
        endpoint=Endpoint("analytics.shop.example", "analytics.shop.example", "hosts.txt:3"),
        resolutions=(_resolution("analytics.shop.example", "198.51.100.7"),),
        facts=(
            IpFacts(
                ip="198.51.100.7",
                routable=True,
                location=Location(Place("US", "US-VA"), Confidence.LOW, "geoip"),
                asn=64500,
                as_org="EXAMPLE-ANALYTICS",
                evidence=(_geoip("US"),),
                registration=Registration("unknown", reason="RDAP unreachable"),
            ),
        ),
    )
    legacy = EndpointResult(
        endpoint=Endpoint("legacy.shop.example", "legacy.shop.example", "hosts.txt:4"),
        resolutions=(_resolution("legacy.shop.example", "203.0.113.9"),),
        facts=(
            IpFacts(
                ip="203.0.113.9",
                routable=True,
                location=Location(Place("SG"), Confidence.MEDIUM, "geoip-consensus"),
                evidence=(_geoip("SG"),),
            ),
        ),
    )
    gone = EndpointResult(
        endpoint=Endpoint("gone.shop.example", "gone.shop.example", "hosts.txt:5"),
        resolutions=(Resolution("gone.shop.example", Outcome.NXDOMAIN, resolver="127.0.0.1:53"),),
        facts=(),
    )
    books = EndpointResult(
        endpoint=Endpoint("xn--bcher-kva.example", "bücher.example", "argv"),
        resolutions=(_resolution("xn--bcher-kva.example", "192.0.2.44"),),
        facts=(
            IpFacts(
                ip="192.0.2.44",
                routable=True,
                location=Location(
                    Place("DE", None, "Frankfurt am Main"), Confidence.MEDIUM, "geofeed"
                ),
                evidence=(
                    Evidence(
                        "hetzner-geofeed",
                        EvidenceKind.GEOFEED,
                        "2026-11-01",
                        prefix="192.0.2.0/24",
                        place=Place("DE", None, "Frankfurt am Main"),
                    ),
                    _geoip("DE"),
                ),
            ),
        ),
    )
    intranet = EndpointResult(
        endpoint=Endpoint("10.0.0.5", "10.0.0.5", "hosts.txt:7", is_ip=True),
        resolutions=(
            Resolution(
                "10.0.0.5",
                Outcome.LITERAL,
                addresses=(ResolvedAddress("10.0.0.5", None, "literal"),),
            ),
        ),
        facts=(
            IpFacts(
                ip="10.0.0.5",
                routable=False,
                not_routable_reason="private (RFC 1918)",
                location=Location(None, Confidence.NONE, "none", why="not routable"),
            ),
        ),
    )
    return (pay, cdn, analytics, legacy, gone, books, intranet)


def unjudged() -> AuditResult:
    return AuditResult(
        run_id="run-0001",
        started="2026-11-28T09:00:00Z",
        finished="2026-11-28T09:00:02.500000Z",
        endpoints=endpoints(),
        data_versions=(AWS, DBIP),
        resolvers=("127.0.0.1:53",),
        problems=(InputProblem("http//bad", "hosts.txt:6", "not a host name or URL"),),
        tool_version="0.1.0",
    )


def judged() -> AuditResult:
    return apply_policy(policy(POLICY, "shop-residency.toml"), unjudged(), TODAY)


def judged_with_path() -> AuditResult:
    result = judged()
    assert result.policy is not None
    return replace(
        result, policy=replace(result.policy, path="policies/shop.toml", sha256="ab" * 32)
    )
