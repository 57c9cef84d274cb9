"""The merge rules pinned one by one: each test fails if its rule in merge.py is broken."""

from __future__ import annotations

import pytest

from residency.locate.merge import merge_facts
from residency.locate.providers import ProviderRegistry
from residency.model import Confidence, Evidence, EvidenceKind, Place


def feed(source: str, prefix: str, region: str | None, cc: str | None) -> Evidence:
    return Evidence(
        source=source,
        kind=EvidenceKind.PROVIDER_FEED,
        version="t",
        prefix=prefix,
        provider="aws",
        region=region,
        place=Place(cc) if cc else None,
    )


def geoip(source: str, cc: str) -> Evidence:
    return Evidence(source=source, kind=EvidenceKind.GEOIP, version="t", place=Place(cc))


@pytest.fixture(scope="module")
def registry() -> ProviderRegistry:
    return ProviderRegistry.load()


def test_own_feed_region_beats_broad_cloudip_entry() -> None:
    # the broad generic entry comes first in the evidence: ranking, not order, must decide
    broad = feed("cloudip", "52.0.0.0/10", None, None)
    own = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    facts = merge_facts("52.16.1.1", [broad, own, geoip("geoip:a", "IE")])
    assert (facts.provider, facts.region) == ("aws", "eu-west-1")
    assert facts.location.country == "IE" and facts.location.basis == "provider-feed"


def test_single_geoip_source_is_low_confidence() -> None:
    facts = merge_facts("5.5.5.5", [geoip("geoip:a", "JP")])
    assert facts.location.country == "JP"
    assert facts.location.confidence is Confidence.LOW
    assert facts.location.basis == "geoip-single"


def test_two_agreeing_geoip_sources_are_medium() -> None:
    facts = merge_facts("5.5.5.5", [geoip("geoip:a", "JP"), geoip("geoip:b", "JP")])
    assert facts.location.confidence is Confidence.MEDIUM


def test_feed_contradicted_by_two_geoip_sources_is_not_high() -> None:
    own = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    facts = merge_facts("52.16.1.1", [own, geoip("geoip:a", "US"), geoip("geoip:b", "US")])
    assert facts.location.country == "IE"  # the feed still wins the place...
    assert facts.location.confidence is Confidence.MEDIUM  # ...but not with full trust
    assert "disagree" in facts.location.why
    assert facts.disagreements == (
        "geoip:a says US, aws-ip-ranges says IE",
        "geoip:b says US, aws-ip-ranges says IE",
    )


def test_uncontradicted_feed_is_high() -> None:
    own = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    facts = merge_facts("52.16.1.1", [own, geoip("geoip:a", "IE")])
    assert facts.location.confidence is Confidence.HIGH and not facts.disagreements


def test_cdn_edge_known_by_asn_only_is_indeterminate(registry: ProviderRegistry) -> None:
    # bunny.net is a CDN, not anycast: no feed, only its ASN and two GeoIP votes for DE
    asn = Evidence(
        source="asn:t", kind=EvidenceKind.ASN, version="t", asn=200325, org="BunnyWay d.o.o."
    )
    facts = merge_facts(
        "185.93.1.1", [asn, geoip("geoip:a", "DE"), geoip("geoip:b", "DE")], (), registry
    )
    assert facts.provider == "bunny" and facts.cdn and not facts.anycast
    assert facts.location.place is None
    assert facts.location.confidence is Confidence.NONE
    assert facts.location.basis == "cdn-edge"
    assert "DE" in facts.location.why  # what GeoIP claimed is shown, not used


def test_geoip_disagreement_is_listed() -> None:
    facts = merge_facts("2.16.3.4", [geoip("geoip:a", "DE"), geoip("geoip:b", "FR")])
    assert facts.location.place is None and facts.location.basis == "sources-disagree"
    assert facts.disagreements == ("GeoIP sources disagree: geoip:a says DE, geoip:b says FR",)
