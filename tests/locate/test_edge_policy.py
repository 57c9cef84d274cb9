"""The locate step's own CDN-edge and anycast facts, judged by the policy's ``cdn`` and
``anycast`` keys: merged facts, not hand-built ones."""

from __future__ import annotations

from datetime import date

import pytest

from residency.locate.providers import ProviderRegistry
from residency.locate.trust.merge import merge_facts
from residency.model import Evidence, EvidenceKind, IpFacts, Place, Verdict
from residency.policy import evaluate
from tests.policy.factories import policy, result

TODAY = date(2026, 11, 28)
EU = """
name = "eu"
version = "1"
{handling}
[countries]
allow = ["@EU"]
"""


@pytest.fixture(scope="module")
def registry() -> ProviderRegistry:
    return ProviderRegistry.load()


def geoip(source: str, cc: str) -> Evidence:
    return Evidence(source=source, kind=EvidenceKind.GEOIP, version="t", place=Place(cc))


def bunny_edge(registry: ProviderRegistry, cc: str) -> IpFacts:
    asn = Evidence(
        source="asn:t", kind=EvidenceKind.ASN, version="t", asn=200325, org="BunnyWay d.o.o."
    )
    return merge_facts(
        "185.93.1.1", [asn, geoip("geoip:a", cc), geoip("geoip:b", cc)], (), registry
    )


def measured_anycast(registry: ProviderRegistry) -> IpFacts:
    measured = Evidence(
        source="bgptools-anycast",
        kind=EvidenceKind.ANYCAST,
        version="t",
        prefix="8.8.8.0/24",
        anycast=True,
    )
    asn = Evidence(source="asn:t", kind=EvidenceKind.ASN, version="t", asn=15169, org="Google LLC")
    return merge_facts("8.8.8.8", [measured, asn, geoip("geoip:a", "DE")], (), registry)


def codes(verdict: object) -> list[str]:
    return [r.code for r in getattr(verdict, "reasons", ())]


def test_cdn_edge_origin_is_the_cdn_key_and_its_place_is_judged(
    registry: ProviderRegistry,
) -> None:
    in_eu = bunny_edge(registry, "DE")
    default = evaluate(policy(EU.format(handling="")), result("a", in_eu), TODAY)
    assert default.verdict is Verdict.INDETERMINATE  # the origin behind it is unknown
    assert codes(default.addresses[0]) == ["cdn-edge", "country-allowed"]
    assert "an edge server" in default.addresses[0].reasons[0].message
    allowed = evaluate(policy(EU.format(handling='cdn = "allow"')), result("a", in_eu), TODAY)
    assert allowed.verdict is Verdict.PASS
    # the edge's own place still counts: an edge outside the EU fails whatever cdn says
    outside = bunny_edge(registry, "US")
    failed = evaluate(policy(EU.format(handling='cdn = "allow"')), result("a", outside), TODAY)
    assert failed.verdict is Verdict.FAIL and "country-not-allowed" in codes(failed.addresses[0])


def test_measured_anycast_is_the_anycast_key_alone(registry: ProviderRegistry) -> None:
    facts = measured_anycast(registry)
    split = EU.format(handling='cdn = "allow"\nanycast = "fail"')
    judged = evaluate(policy(split), result("a", facts), TODAY)
    assert judged.verdict is Verdict.FAIL and codes(judged.addresses[0]) == ["anycast"]
    lenient = EU.format(handling='cdn = "fail"\nanycast = "allow"')
    assert evaluate(policy(lenient), result("a", facts), TODAY).verdict is Verdict.PASS


def test_text_and_json_show_both_with_their_basis(registry: ProviderRegistry) -> None:
    from residency.report.ip_output import facts_to_json, render_ip_facts

    edge = bunny_edge(registry, "DE")
    assert "  edge        unicast CDN edge of bunny (asn AS200325)" in render_ip_facts(edge)
    assert facts_to_json(edge)["cdn_edge"] == {"vendor": "bunny", "basis": "asn AS200325"}
    anycast = measured_anycast(registry)
    text = render_ip_facts(anycast)
    assert "  edge        anycast (measured, bgptools-anycast [8.8.8.0/24])" in text
    doc = facts_to_json(anycast)
    assert doc["anycast"] is True and doc["anycast_basis"].startswith("measured")
    assert doc["cdn_edge"] is None
