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


def asn_of(asn: int, org: str) -> Evidence:
    return Evidence(source="asn:t", kind=EvidenceKind.ASN, version="t", asn=asn, org=org)


def measured(prefix: str) -> Evidence:
    return Evidence(
        source="bgptools-anycast",
        kind=EvidenceKind.ANYCAST,
        version="t",
        prefix=prefix,
        anycast=True,
    )


def test_cdn_edge_known_by_asn_only_keeps_its_own_place(registry: ProviderRegistry) -> None:
    # bunny.net is a CDN, not anycast: each edge is a unicast server in one place, so
    # the two GeoIP votes for DE place the edge; the origin behind it stays unknown
    facts = merge_facts(
        "185.93.1.1",
        [asn_of(200325, "BunnyWay d.o.o."), geoip("geoip:a", "DE"), geoip("geoip:b", "DE")],
        (),
        registry,
    )
    assert facts.provider == "bunny" and facts.cdn and not facts.anycast
    assert facts.cdn_edge is not None and facts.cdn_edge.vendor == "bunny"
    assert facts.cdn_edge.basis == "asn AS200325"
    assert facts.location.country == "DE"
    assert facts.location.confidence is Confidence.MEDIUM
    assert facts.location.basis == "geoip-consensus"
    assert "CDN edge of bunny" in facts.location.why and "origin unknown" in facts.location.why


def test_provider_anycast_flag_alone_is_not_anycast(registry: ProviderRegistry) -> None:
    # Google runs anycast somewhere; that does not make a Google address anycast
    goog = Evidence(
        source="google-goog",
        kind=EvidenceKind.PROVIDER_FEED,
        version="t",
        prefix="142.250.0.0/15",
        provider="google",
    )
    facts = merge_facts(
        "142.250.185.78",
        [goog, asn_of(15169, "Google LLC"), geoip("geoip:a", "US"), geoip("geoip:b", "US")],
        (),
        registry,
    )
    assert not facts.anycast and facts.anycast_basis == ""
    assert facts.cdn_edge is None and not facts.cdn
    assert facts.location.country == "US" and facts.location.basis == "geoip-consensus"


def test_gcore_unicast_host_is_located(registry: ProviderRegistry) -> None:
    facts = merge_facts(
        "92.38.130.1",
        [asn_of(199524, "G-Core Labs S.A."), geoip("geoip:a", "LU"), geoip("geoip:b", "LU")],
        (),
        registry,
    )
    # AS199524 also carries Gcore's cloud and hosting: neither anycast nor a CDN edge
    assert facts.provider == "gcore" and not facts.anycast and facts.cdn_edge is None
    assert facts.location.country == "LU"


def test_measured_anycast_prefix_is_anycast(registry: ProviderRegistry) -> None:
    facts = merge_facts(
        "8.8.8.8",
        [
            measured("8.8.8.0/24"),
            asn_of(15169, "Google LLC"),
            geoip("geoip:a", "US"),
            geoip("geoip:b", "US"),
        ],
        (),
        registry,
    )
    assert facts.anycast and facts.provider == "google"
    assert facts.anycast_basis == "measured, bgptools-anycast [8.8.8.0/24]"
    assert facts.location.place is None and facts.location.basis == "anycast"
    assert facts.location.confidence is Confidence.NONE
    assert "US" in facts.location.why  # what GeoIP claimed is shown, not used
    assert facts.cdn_edge is None  # anycast, but not a CDN


def test_provider_published_anycast_stays_anycast_and_names_the_cdn() -> None:
    edge = Evidence(
        source="cloudflare-ips",
        kind=EvidenceKind.PROVIDER_FEED,
        version="t",
        prefix="104.16.0.0/13",
        provider="cloudflare",
        service="CDN",
        anycast=True,
    )
    facts = merge_facts("104.16.1.1", [edge, geoip("geoip:a", "US")])
    assert facts.anycast and facts.anycast_basis == "published by cloudflare-ips [104.16.0.0/13]"
    assert facts.cdn_edge is not None and facts.cdn_edge.vendor == "cloudflare"
    assert facts.location.place is None


def test_cloudfront_global_edge_is_a_located_cdn_edge() -> None:
    # CloudFront's GLOBAL ranges are unicast edges picked by DNS, not anycast
    cf = Evidence(
        source="aws-ip-ranges",
        kind=EvidenceKind.PROVIDER_FEED,
        version="t",
        prefix="13.32.0.0/15",
        provider="aws",
        region="GLOBAL",
        service="CLOUDFRONT",
    )
    facts = merge_facts("13.32.1.1", [cf, geoip("geoip:a", "FR"), geoip("geoip:b", "FR")])
    assert not facts.anycast
    assert facts.cdn_edge is not None and facts.cdn_edge.vendor == "aws"
    assert facts.cdn_edge.basis == "aws-ip-ranges: CLOUDFRONT"
    assert facts.location.country == "FR"


def test_cloudfront_origin_facing_range_is_not_an_edge() -> None:
    origin = Evidence(
        source="aws-ip-ranges",
        kind=EvidenceKind.PROVIDER_FEED,
        version="t",
        prefix="13.33.0.0/16",
        provider="aws",
        region="GLOBAL",
        service="CLOUDFRONT_ORIGIN_FACING",
    )
    facts = merge_facts("13.33.1.1", [origin, geoip("geoip:a", "US")])
    assert facts.cdn_edge is None and not facts.anycast


def test_cdn_hostname_hint_makes_an_edge_not_anycast() -> None:
    hint = Evidence(
        source="hostname",
        kind=EvidenceKind.HOSTNAME,
        version="t",
        provider="akamai",
        anycast=True,  # hints.py's flag for a name pattern marked cdn
        note="a1.akamaiedge.net",
    )
    facts = merge_facts("2.16.3.4", [geoip("geoip:a", "DE"), geoip("geoip:b", "DE")], [hint])
    assert not facts.anycast
    assert facts.cdn_edge is not None and facts.cdn_edge.vendor == "akamai"
    assert facts.location.country == "DE"


def test_geoip_disagreement_is_listed() -> None:
    facts = merge_facts("2.16.3.4", [geoip("geoip:a", "DE"), geoip("geoip:b", "FR")])
    assert facts.location.place is None and facts.location.basis == "sources-disagree"
    assert facts.disagreements == ("GeoIP sources disagree: geoip:a says DE, geoip:b says FR",)


def test_provider_region_inside_a_measured_aggregate_is_located(registry: ProviderRegistry) -> None:
    # bgp.tools measures Google's 34.32.0.0/11 aggregate as anycast; Google Cloud places
    # the narrower 34.40.0.0/17 in europe-west3: the region is the better claim
    region = Evidence(
        source="gcp-cloud",
        kind=EvidenceKind.PROVIDER_FEED,
        version="t",
        prefix="34.40.0.0/17",
        provider="gcp",
        region="europe-west3",
        place=Place("DE"),
    )
    facts = merge_facts(
        "34.40.0.1", [region, measured("34.32.0.0/11"), geoip("geoip:a", "DE")], (), registry
    )
    assert not facts.anycast and facts.location.country == "DE"
    assert facts.location.basis == "provider-feed"


def test_measured_prefix_narrower_than_the_feed_is_anycast() -> None:
    region = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    facts = merge_facts("52.16.1.1", [region, measured("52.16.1.0/24"), geoip("geoip:a", "IE")])
    assert facts.anycast and facts.location.place is None
    assert facts.anycast_basis == "measured, bgptools-anycast [52.16.1.0/24]"
