"""``residency ip --json`` view of IpFacts: enums as values, nested dataclasses as objects."""

from __future__ import annotations

import json
from dataclasses import asdict

from residency.model import Confidence, Evidence, EvidenceKind, IpFacts, Location, Place
from residency.report.ip_output import facts_to_json


def test_facts_json_matches_the_plain_dataclass_view() -> None:
    place = Place(country="IE")
    facts = IpFacts(
        ip="203.0.113.7",
        routable=True,
        location=Location(place=place, confidence=Confidence.HIGH, basis="provider-feed"),
        asn=16509,
        evidence=(
            Evidence(
                source="aws-ip-ranges",
                kind=EvidenceKind.PROVIDER_FEED,
                version="2026-01-01",
                prefix="203.0.113.0/24",
                place=place,
            ),
        ),
        disagreements=("dbip says DE, aws feed says IE",),
    )
    got = facts_to_json(facts)
    assert got == json.loads(json.dumps(asdict(facts), default=str))
    assert got["location"]["confidence"] == Confidence.HIGH.value
    assert got["evidence"][0]["kind"] == EvidenceKind.PROVIDER_FEED.value
    assert got["disagreements"] == ["dbip says DE, aws feed says IE"]
