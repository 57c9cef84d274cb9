"""Small builders of AuditResult values for store, drift and monitor tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from residency.model import (
    AddressVerdict,
    AuditResult,
    ChainStep,
    Confidence,
    DataVersion,
    Endpoint,
    EndpointResult,
    EndpointVerdict,
    Evidence,
    EvidenceKind,
    IpFacts,
    Location,
    Outcome,
    Place,
    PolicyRef,
    Reason,
    Resolution,
    ResolvedAddress,
    Verdict,
)


@dataclass(frozen=True)
class Addr:
    ip: str
    country: str | None = "DE"
    provider: str | None = "aws"
    region: str | None = "eu-central-1"
    asn: int | None = 16509


@dataclass(frozen=True)
class Host:
    name: str
    addresses: tuple[Addr, ...] = ()
    cname: tuple[str, ...] = ()
    outcome: Outcome = Outcome.RESOLVED
    verdict: Verdict | None = None
    ttl: int = 300


def iso_at(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def facts_for(addr: Addr, data_version: str = "v1") -> IpFacts:
    place = Place(addr.country) if addr.country else None
    evidence = (
        Evidence(
            source="aws-ip-ranges",
            kind=EvidenceKind.PROVIDER_FEED,
            version=data_version,
            prefix=addr.ip + "/32",
            place=place,
            provider=addr.provider,
            region=addr.region,
            asn=addr.asn,
        ),
    )
    return IpFacts(
        ip=addr.ip,
        routable=True,
        location=Location(place, Confidence.HIGH if place else Confidence.NONE, "provider-feed"),
        asn=addr.asn,
        provider=addr.provider,
        region=addr.region,
        evidence=evidence,
    )


def endpoint_result(host: Host, when: str, data_version: str = "v1") -> EndpointResult:
    chain: list[ChainStep] = []
    owner = host.name
    for target in host.cname:
        chain.append(ChainStep(owner, "CNAME", target, host.ttl))
        owner = target
    for a in host.addresses:
        chain.append(ChainStep(owner, "A", a.ip, host.ttl))
    resolution = Resolution(
        name=host.name,
        outcome=host.outcome,
        chain=tuple(chain),
        addresses=tuple(ResolvedAddress(a.ip, host.ttl, "A") for a in host.addresses),
        resolver="127.0.0.1:53",
        when=when,
    )
    verdict = None
    if host.verdict is not None:
        verdict = EndpointVerdict(
            host.verdict,
            tuple(
                AddressVerdict(
                    a.ip,
                    host.verdict,
                    (Reason("country-allowed" if host.verdict == Verdict.PASS else "x", "m"),),
                )
                for a in host.addresses
            ),
        )
    return EndpointResult(
        endpoint=Endpoint(host.name, host.name, origin="test"),
        resolutions=(resolution,),
        facts=tuple(facts_for(a, data_version) for a in host.addresses),
        verdict=verdict,
    )


def audit_result(
    run_id: str,
    ts: float,
    hosts: Sequence[Host],
    data_version: str = "v1",
    vantages: Sequence[str] = (),
    policy: bool = False,
) -> AuditResult:
    when = iso_at(ts)
    results = tuple(endpoint_result(h, when, data_version) for h in hosts)
    verdicts = [r.verdict.verdict for r in results if r.verdict]
    return AuditResult(
        run_id=run_id,
        started=when,
        finished=iso_at(ts + 1),
        endpoints=results,
        data_versions=(DataVersion("aws-ip-ranges", data_version),),
        resolvers=("127.0.0.1:53",),
        vantages=tuple(vantages),
        policy=PolicyRef("eu-only", "1") if policy else None,
        verdict=max(verdicts) if verdicts else None,
        tool_version="test",
    )


def hosts_from(mapping: Mapping[str, Sequence[Addr]]) -> list[Host]:
    return [Host(name, tuple(addrs)) for name, addrs in mapping.items()]
