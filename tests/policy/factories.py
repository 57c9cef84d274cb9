"""Small builders for model objects, so each policy test states only what matters to it."""

from __future__ import annotations

from residency.model import (
    Confidence,
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
)
from residency.policy import Jurisdictions, Policy, parse_policy
from residency.policy.regions import CsvRegionCatalog
from tests.support import FIXTURES

REGIONS = CsvRegionCatalog(FIXTURES / "policy")
JURISDICTIONS = Jurisdictions.load()


def policy(text: str, origin: str = "test.toml") -> Policy:
    return parse_policy(text, origin, jurisdictions=JURISDICTIONS, regions=REGIONS)


def facts(
    ip: str = "192.0.2.10",
    country: str | None = "IN",
    *,
    provider: str | None = None,
    region: str | None = None,
    cdn: bool = False,
    anycast: bool = False,
    basis: str = "geoip-consensus",
    confidence: Confidence = Confidence.MEDIUM,
    why: str = "",
    disagreements: tuple[str, ...] = (),
    extra_countries: tuple[str, ...] = (),
    jurisdiction: str | None = None,
    entity: str | None = None,
    routable: bool = True,
    not_routable_reason: str | None = None,
) -> IpFacts:
    place = Place(country) if country else None
    evidence = [
        Evidence(
            source="provider-feed" if provider else "geoip:dbip-country",
            kind=EvidenceKind.PROVIDER_FEED if provider else EvidenceKind.GEOIP,
            version="2026-08-22",
            prefix=ip + "/24" if ":" not in ip else ip + "/64",
            place=place,
            provider=provider,
            region=region,
            anycast=anycast,
        )
    ]
    for other in extra_countries:
        evidence.append(
            Evidence(source="geoip:other", kind=EvidenceKind.GEOIP, version="1", place=Place(other))
        )
    operator = None
    if jurisdiction or entity:
        operator = Operator(
            provider=provider, entity=entity, jurisdiction=jurisdiction, basis="test"
        )
    return IpFacts(
        ip=ip,
        routable=routable,
        not_routable_reason=not_routable_reason,
        location=Location(
            place=place,
            confidence=confidence if place else Confidence.NONE,
            basis=basis if place else "none",
            why=why,
        ),
        provider=provider,
        region=region,
        cdn=cdn,
        anycast=anycast,
        evidence=tuple(evidence),
        disagreements=disagreements,
        operator=operator,
    )


def result(
    host: str,
    *address_facts: IpFacts,
    categories: tuple[str, ...] = (),
    outcome: Outcome = Outcome.RESOLVED,
) -> EndpointResult:
    addresses = tuple(ResolvedAddress(f.ip, 300, "A") for f in address_facts)
    resolution = Resolution(name=host, outcome=outcome, addresses=addresses, error="")
    return EndpointResult(
        endpoint=Endpoint(host=host, display=host, categories=categories),
        resolutions=(resolution,),
        facts=tuple(address_facts),
    )
