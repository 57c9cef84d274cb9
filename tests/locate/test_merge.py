"""The merge rules pinned one by one: each test fails if its rule in merge.py is broken.

The vote's weights and the confidence levels come from a calibration table; these tests
pass their own (``CAL``), so they pin the rules, not the figures measured today."""

from __future__ import annotations

from dataclasses import replace

import pytest

from residency.locate.providers import ProviderRegistry
from residency.locate.trust.calibration import Calibration, Measured
from residency.locate.trust.merge import merge_facts
from residency.model import Confidence, Evidence, EvidenceKind, IpFacts, Place, Registration


def m(right: int, given: int) -> dict[str, Measured]:
    return {"all": Measured(right, given)}


#: geoip:a and geoip:b are equally trusted; geoip:good more, geoip:weak below the bar.
CAL = Calibration(
    sources={
        "geoip:a": m(900, 1000),
        "geoip:b": m(900, 1000),
        "geoip:good": m(970, 1000),
        "geoip:fair": m(700, 1000),
        "geoip:weak": m(300, 1000),
        "geoip:weak2": m(400, 1000),
        "geoip:best": {"unlisted": Measured(19980, 20000)},
        "aws-ip-ranges": {"hyperscaler": Measured(500, 500)},
    },
    answers={
        "feed:agreed": {"all": Measured(10000, 10000), "hyperscaler": Measured(9000, 9000)},
        "feed:contested": m(990, 1000),  # lower bound < 99%: medium
        "feed:contradicted": m(800, 1000),  # low
        "feed:alone": m(10000, 10000),
        "geoip:unanimous": {
            "all": Measured(990, 1000),
            "hosting": Measured(5000, 5000),
            "cdn": Measured(5000, 5000),  # would be high: a CDN edge is capped at medium
        },
        "geoip:single": m(900, 1000),  # low
        "geoip:majority": m(850, 1000),
    },
    default_weight={"provider-feed": 0.9, "geofeed": 0.9, "geoip": 0.6},
    hyperscalers=frozenset({"aws", "gcp"}),
    geoip_split=0.1,
)


def merge(ip: str, evidence: list[Evidence], *args: object, **kw: object) -> IpFacts:
    return merge_facts(ip, evidence, *args, calibration=CAL, **kw)  # type: ignore[arg-type]


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
    facts = merge("52.16.1.1", [broad, own, geoip("geoip:a", "IE")])
    assert (facts.provider, facts.region) == ("aws", "eu-west-1")
    assert facts.location.country == "IE" and facts.location.basis == "provider-feed"


def test_a_copy_of_the_feed_does_not_outvote_the_providers_own() -> None:
    # cloudip carries the parent region of a Local Zone: listed, not counted against it
    copy = feed("cloudip", "15.220.176.0/21", "us-east-1", "US")
    own = feed("aws-ip-ranges", "15.220.176.0/21", "us-east-1-qro-1", "MX")
    facts = merge("15.220.180.3", [copy, own, geoip("geoip:a", "MX"), geoip("geoip:b", "MX")])
    assert facts.location.country == "MX" and facts.region == "us-east-1-qro-1"
    assert facts.location.answer == "feed:agreed"
    assert "cloudip says US, the provider's own feed does not" in facts.disagreements
    # the copy's dissent is part of the disagreement pattern, measured on its own
    assert facts.location.pattern == "feed:agreed v4: aws-ip-ranges+geoip:a+geoip:b vs cloudip"


def test_single_geoip_source_confidence_is_its_own_measured_share() -> None:
    facts = merge("5.5.5.5", [geoip("geoip:a", "JP")])
    assert facts.location.country == "JP"
    assert facts.location.basis == "geoip-single" and facts.location.answer == "geoip:single"
    assert facts.location.confidence is Confidence.LOW  # geoip:a measured 90%
    assert "geoip:a alone answers measured 90.0% of 1000 right" in facts.location.why
    best = merge("5.5.5.5", [geoip("geoip:best", "JP")])
    assert best.location.confidence is Confidence.HIGH  # 99.9% of 20000 on unlisted


def test_unmeasured_single_source_is_low() -> None:
    facts = merge("5.5.5.5", [geoip("geoip:new", "JP")])
    assert facts.location.confidence is Confidence.LOW
    assert "geoip:new alone answers not measured" in facts.location.why


def test_two_agreeing_geoip_sources_take_their_measured_level() -> None:
    facts = merge("5.5.5.5", [geoip("geoip:a", "JP"), geoip("geoip:b", "JP")])
    assert facts.location.basis == "geoip-consensus"
    # measured 99.0% of 1000 on all networks: the lower bound is under 99%, so medium
    assert facts.location.confidence is Confidence.MEDIUM


def test_network_class_picks_its_own_row(registry: ProviderRegistry) -> None:
    # DigitalOcean (kind cloud, not a hyperscaler) is "hosting": 5000 of 5000 there
    asn = Evidence(source="asn:t", kind=EvidenceKind.ASN, version="t", asn=14061, org="DO")
    facts = merge("164.90.1.1", [asn, geoip("geoip:a", "DE"), geoip("geoip:b", "DE")], (), registry)
    assert facts.location.confidence is Confidence.HIGH
    assert "right on hosting" in facts.location.why


def test_feed_contradicted_by_two_geoip_sources_is_not_high() -> None:
    own = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    facts = merge("52.16.1.1", [own, geoip("geoip:a", "US"), geoip("geoip:b", "US")])
    assert facts.location.country == "IE"  # the feed still decides over GeoIP...
    assert facts.location.answer == "feed:contradicted"
    assert facts.location.confidence is Confidence.LOW  # ...at the level that measured
    assert "disagree" in facts.location.why
    assert facts.disagreements == (
        "geoip:a says US, aws-ip-ranges says IE",
        "geoip:b says US, aws-ip-ranges says IE",
    )


def test_feed_with_geoip_split_is_contested() -> None:
    own = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    facts = merge("52.16.1.1", [own, geoip("geoip:a", "IE"), geoip("geoip:b", "US")])
    assert facts.location.answer == "feed:contested"
    assert facts.location.confidence is Confidence.MEDIUM
    assert facts.disagreements == ("geoip:b says US, aws-ip-ranges says IE",)


def test_uncontradicted_feed_is_high() -> None:
    own = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    facts = merge("52.16.1.1", [own, geoip("geoip:a", "IE")])
    assert facts.location.confidence is Confidence.HIGH and not facts.disagreements
    assert facts.location.answer == "feed:agreed"


def test_answer_measured_only_pooled_is_at_most_medium() -> None:
    # feed-x has no row: two agreeing feeds, no GeoIP, measured 100% only pooled
    one = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    facts = merge("52.16.1.1", [one, feed("feed-x", "52.16.0.0/15", "eu-west-1", "IE")])
    assert facts.location.answer == "feed:alone"
    assert facts.location.confidence is Confidence.MEDIUM
    assert "all networks pooled, too few on hyperscaler" in facts.location.why


def test_unmeasured_answer_is_low() -> None:
    bare = Calibration(default_weight=CAL.default_weight)
    own = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    facts = merge_facts("52.16.1.1", [own, geoip("geoip:a", "IE")], calibration=bare)
    assert facts.location.country == "IE" and facts.location.confidence is Confidence.LOW
    assert "feed:agreed answers not measured" in facts.location.why


def test_feeds_that_tie_are_broken_by_geoip() -> None:
    one = feed("feed-one", "52.16.0.0/15", "eu-west-1", "IE")
    other = feed("feed-two", "52.16.0.0/15", "eu-west-2", "GB")
    facts = merge("52.16.1.1", [one, other, geoip("geoip:a", "GB")])
    assert facts.location.country == "GB" and facts.location.answer == "feed:split"
    assert "feed-one says IE, feed-two says GB" in facts.disagreements


def test_feeds_and_geoip_all_tied_is_indeterminate() -> None:
    one = feed("feed-one", "52.16.0.0/15", "eu-west-1", "IE")
    other = feed("feed-two", "52.16.0.0/15", "eu-west-2", "GB")
    facts = merge("52.16.1.1", [one, other])
    assert facts.location.place is None and facts.location.basis == "sources-disagree"
    assert facts.location.confidence is Confidence.NONE
    assert facts.disagreements == ("provider feeds disagree: feed-one says IE, feed-two says GB",)


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
    facts = merge(
        "185.93.1.1",
        [asn_of(200325, "BunnyWay d.o.o."), geoip("geoip:a", "DE"), geoip("geoip:b", "DE")],
        (),
        registry,
    )
    assert facts.provider == "bunny" and facts.cdn and not facts.anycast
    assert facts.cdn_edge is not None and facts.cdn_edge.vendor == "bunny"
    assert facts.cdn_edge.basis == "asn AS200325"
    assert facts.location.country == "DE"
    # measured 100% on CDN networks, yet an edge is never a confident answer
    assert "right on cdn" in facts.location.why
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
    facts = merge(
        "142.250.185.78",
        [goog, asn_of(15169, "Google LLC"), geoip("geoip:a", "US"), geoip("geoip:b", "US")],
        (),
        registry,
    )
    assert not facts.anycast and facts.anycast_basis == ""
    assert facts.cdn_edge is None and not facts.cdn
    assert facts.location.country == "US" and facts.location.basis == "geoip-consensus"


def test_gcore_unicast_host_is_located(registry: ProviderRegistry) -> None:
    facts = merge(
        "92.38.130.1",
        [asn_of(199524, "G-Core Labs S.A."), geoip("geoip:a", "LU"), geoip("geoip:b", "LU")],
        (),
        registry,
    )
    # AS199524 also carries Gcore's cloud and hosting: neither anycast nor a CDN edge
    assert facts.provider == "gcore" and not facts.anycast and facts.cdn_edge is None
    assert facts.location.country == "LU"


def test_measured_anycast_prefix_is_anycast(registry: ProviderRegistry) -> None:
    facts = merge(
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
    facts = merge("104.16.1.1", [edge, geoip("geoip:a", "US")])
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
    facts = merge("13.32.1.1", [cf, geoip("geoip:a", "FR"), geoip("geoip:b", "FR")])
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
    facts = merge("13.33.1.1", [origin, geoip("geoip:a", "US")])
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
    facts = merge("2.16.3.4", [geoip("geoip:a", "DE"), geoip("geoip:b", "DE")], [hint])
    assert not facts.anycast
    assert facts.cdn_edge is not None and facts.cdn_edge.vendor == "akamai"
    assert facts.location.country == "DE"


def test_geoip_tie_is_indeterminate_and_listed() -> None:
    facts = merge("2.16.3.4", [geoip("geoip:a", "DE"), geoip("geoip:b", "FR")])
    assert facts.location.place is None and facts.location.basis == "sources-disagree"
    assert facts.location.confidence is Confidence.NONE
    assert facts.disagreements == ("GeoIP sources disagree: geoip:a says DE, geoip:b says FR",)


def test_weighted_geoip_majority_answers_with_the_dissent_listed() -> None:
    evidence = [geoip("geoip:good", "DE"), geoip("geoip:fair", "FR")]
    facts = merge_facts("2.16.3.4", evidence, calibration=CAL)
    assert facts.location.country == "DE" and facts.location.basis == "geoip-majority"
    assert facts.location.confidence is Confidence.LOW  # 85% measured
    assert facts.disagreements == (
        "GeoIP sources disagree: geoip:good says DE, geoip:fair says FR",
    )


def test_two_databases_a_few_points_apart_are_split_not_outweighed() -> None:
    # 97% and 90% right overall say nothing about which is right where they disagree
    facts = merge("2.16.3.4", [geoip("geoip:good", "DE"), geoip("geoip:b", "FR")])
    assert facts.location.place is None and facts.location.basis == "sources-disagree"
    assert "geoip:good says DE, geoip:b says FR" in facts.location.why


def test_all_weak_sources_are_indeterminate() -> None:
    facts = merge("2.16.3.4", [geoip("geoip:weak", "DE"), geoip("geoip:weak2", "DE")])
    assert facts.location.place is None and facts.location.basis == "sources-disagree"
    assert "every GeoIP source is weak" in facts.location.why


def test_a_weak_source_does_not_outvote_a_strong_one() -> None:
    facts = merge("2.16.3.4", [geoip("geoip:a", "DE"), geoip("geoip:weak", "FR")])
    assert facts.location.country == "DE" and facts.location.basis == "geoip-majority"
    assert facts.disagreements  # the weak dissent is still shown


def test_new_source_votes_with_its_kinds_default_weight() -> None:
    # no row for geoip:new: it counts 0.6 (the geoip default), beating geoip:weak's 0.3
    facts = merge("2.16.3.4", [geoip("geoip:new", "NL"), geoip("geoip:weak", "FR")])
    assert CAL.weight("geoip:new", "geoip", "unlisted") == 0.6
    assert facts.location.country == "NL"


def test_registration_only_is_low_and_says_so() -> None:
    reg = Registration(status="known", country="SE")
    facts = merge("2.16.3.4", [], (), None, reg)
    assert facts.location.country == "SE" and facts.location.basis == "registration"
    assert facts.location.confidence is Confidence.LOW


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
    facts = merge(
        "34.40.0.1", [region, measured("34.32.0.0/11"), geoip("geoip:a", "DE")], (), registry
    )
    assert not facts.anycast and facts.location.country == "DE"
    assert facts.location.basis == "provider-feed"


def test_measured_prefix_narrower_than_the_feed_is_anycast() -> None:
    region = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    facts = merge("52.16.1.1", [region, measured("52.16.1.0/24"), geoip("geoip:a", "IE")])
    assert facts.anycast and facts.location.place is None
    assert facts.anycast_basis == "measured, bgptools-anycast [52.16.1.0/24]"


def test_one_feed_alone_is_judged_by_its_own_measured_share() -> None:
    facts = merge("52.16.1.1", [feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")])
    assert facts.location.answer == "feed:alone"
    assert facts.location.confidence is Confidence.HIGH  # 500 of 500 on hyperscaler
    assert "aws-ip-ranges alone answers measured 100.0% of 500" in facts.location.why


# -- disagreement patterns: each pattern's own measured share (calibration.patterns)

DO_ASN = Evidence(source="asn:t", kind=EvidenceKind.ASN, version="t", asn=14061, org="DO")


def test_a_pattern_measured_weak_withholds_the_place_with_its_figure() -> None:
    evidence = [geoip("geoip:good", "US"), geoip("geoip:fair", "DE")]
    assert merge("5.5.5.5", evidence).location.country == "US"  # the kind alone: low
    pattern = "geoip:majority v4: geoip:good vs geoip:fair"
    cal = replace(CAL, patterns={pattern: m(20, 50)})
    facts = merge_facts("5.5.5.5", evidence, calibration=cal)
    loc = facts.location
    assert loc.place is None and loc.confidence is Confidence.NONE
    assert loc.basis == "sources-weak" and loc.answer == "geoip:majority"
    assert loc.pattern == pattern
    assert loc.why.startswith(
        "unknown, because the sources disagree: geoip:good says US, geoip:fair says DE"
    )
    assert "this pattern measured 40.0% of 50 right" in loc.why
    assert "the answer would have been US (weighted majority of GeoIP" in loc.why
    assert any("GeoIP sources disagree" in d for d in facts.disagreements)
    # the same pattern measured strong enough is answered
    fine = merge_facts("5.5.5.5", evidence, calibration=replace(CAL, patterns={pattern: m(45, 50)}))
    assert fine.location.country == "US"


def test_few_samples_never_withhold_nor_lower() -> None:
    evidence = [geoip("geoip:good", "US"), geoip("geoip:fair", "DE")]
    cal = replace(CAL, patterns={"geoip:majority v4: geoip:good vs geoip:fair": m(0, 10)})
    assert merge_facts("5.5.5.5", evidence, calibration=cal).location.country == "US"


def test_patterns_are_measured_per_address_family(registry: ProviderRegistry) -> None:
    # two GeoIP databases agreeing on a multi-country host's IPv6 block (the registry
    # country twice, not two independent votes): measured 98.5%, not high, on IPv6 only
    agree = [DO_ASN, geoip("geoip:a", "US"), geoip("geoip:b", "US")]
    v6 = "geoip:unanimous v6: geoip:a+geoip:b"
    cal = replace(CAL, patterns={v6: {"hosting": Measured(264, 268)}})
    four = merge_facts("164.90.1.1", agree, (), registry, calibration=cal)
    six = merge_facts("2604:a880:4:1d0::1", agree, (), registry, calibration=cal)
    assert four.location.confidence is Confidence.HIGH  # the kind's 5000 of 5000
    assert six.location.confidence is Confidence.MEDIUM and six.location.pattern == v6
    assert "this pattern measured 98.5% of 268 right on hosting" in six.location.why
    # a template merged without an address takes the family it is given
    blank = merge_facts("", agree, (), registry, calibration=cal, family=6)
    assert blank.location.confidence is Confidence.MEDIUM


def test_a_pattern_measured_strong_on_its_network_sets_the_level() -> None:
    own = feed("aws-ip-ranges", "52.16.0.0/15", "eu-west-1", "IE")
    evidence = [own, geoip("geoip:a", "US"), geoip("geoip:b", "DE")]
    assert merge("52.16.1.1", evidence).location.confidence is Confidence.LOW
    pattern = "feed:contradicted v4: aws-ip-ranges vs geoip:a vs geoip:b"
    cal = replace(CAL, patterns={pattern: {"hyperscaler": Measured(216, 216)}})
    facts = merge_facts("52.16.1.1", evidence, calibration=cal)
    assert facts.location.answer == "feed:contradicted" and facts.location.pattern == pattern
    assert facts.location.confidence is Confidence.MEDIUM  # 216 of 216: lower bound 98.3%


def test_a_pattern_measured_below_the_kind_caps_its_level(registry: ProviderRegistry) -> None:
    agree = [DO_ASN, geoip("geoip:a", "DE"), geoip("geoip:b", "DE")]
    pattern = "geoip:unanimous v4: geoip:a+geoip:b"
    assert Measured(95, 100).upper_bound < 0.99
    cal = replace(CAL, patterns={pattern: {"hosting": Measured(95, 100)}})
    facts = merge_facts("164.90.1.1", agree, (), registry, calibration=cal)
    assert facts.location.confidence is Confidence.MEDIUM  # the kind alone says high
    assert "this pattern measured 95.0% of 100 right on hosting" in facts.location.why


# --- issue 21: the registry country breaks ties, never outvotes; coin flips withhold

REG = "geoip:geo-whois-asn-country"
#: the registry country measured strong (as on AWS, which registers blocks per country)
#: yet a tie-breaker only; two GeoIP databases measured equal
TIES = replace(
    CAL,
    sources={**CAL.sources, REG: m(990, 1000)},
    tie_breakers=frozenset({REG}),
)


def test_the_registry_country_does_not_outvote_a_geoip_database() -> None:
    # 52.98.85.105: DB-IP JP, registry US, GeoLite2 KR. Weighted, the registry's measured
    # 99% would carry US; as a tie-breaker it says neither JP nor KR, so it breaks nothing
    evidence = [geoip("geoip:a", "JP"), geoip(REG, "US"), geoip("geoip:good", "KR")]
    facts = merge_facts("52.98.85.105", evidence, calibration=TIES)
    # geoip:good (97%) and geoip:a (90%) are split; the registry names neither: unknown
    assert facts.location.place is None and facts.location.basis == "sources-disagree"
    assert "geoip:a says JP" in facts.location.why and "geoip:good says KR" in facts.location.why
    weighted = merge_facts(
        "52.98.85.105",
        evidence,
        calibration=replace(TIES, tie_breakers=frozenset(), geoip_split=0.0),
    )
    assert weighted.location.country == "US"  # the rule before: the registry outvoted both


def test_the_registry_country_sides_with_one_of_two_split_databases() -> None:
    # good (97%) and a (90%) disagree: a few points apart is a split, not a verdict
    evidence = [geoip("geoip:good", "KR"), geoip("geoip:a", "JP"), geoip(REG, "JP")]
    assert merge_facts("5.5.5.5", evidence, calibration=TIES).location.country == "JP"
    # a database far weaker is outweighed, whatever the registry says
    weakish = replace(TIES, sources={**TIES.sources, "geoip:a": m(600, 1000)})
    assert merge_facts("5.5.5.5", evidence, calibration=weakish).location.country == "KR"


def test_the_registry_country_breaks_a_tie_between_equal_databases() -> None:
    evidence = [geoip("geoip:a", "JP"), geoip("geoip:b", "KR"), geoip(REG, "KR")]
    assert merge_facts("5.5.5.5", evidence, calibration=TIES).location.country == "KR"
    # a registry country that names neither tied country leaves the tie unknown
    other = [geoip("geoip:a", "JP"), geoip("geoip:b", "KR"), geoip(REG, "US")]
    loc = merge_facts("5.5.5.5", other, calibration=TIES).location
    assert loc.place is None and loc.basis == "sources-disagree"


def test_a_weak_registry_country_breaks_no_tie() -> None:
    weak = replace(TIES, sources={**TIES.sources, REG: m(300, 1000)})
    evidence = [geoip("geoip:a", "JP"), geoip("geoip:b", "KR"), geoip(REG, "KR")]
    assert merge_facts("5.5.5.5", evidence, calibration=weak).location.place is None


def test_the_registry_country_alone_still_answers_at_its_own_measure() -> None:
    loc = merge_facts("5.5.5.5", [geoip(REG, "NL")], calibration=TIES).location
    assert loc.country == "NL" and loc.answer == "geoip:single"


def test_a_coin_flip_pattern_withholds_with_both_sides_named() -> None:
    evidence = [geoip("geoip:good", "KR"), geoip("geoip:a", "JP"), geoip(REG, "JP")]
    # good (97%) and a (90%) are split, so the registry country sides with a: JP
    pattern = f"geoip:majority v4: geoip:a+{REG} vs geoip:good"
    coin = replace(TIES, patterns={pattern: m(150, 300)})
    loc = merge_facts("5.5.5.5", evidence, calibration=coin).location
    assert loc.pattern == pattern and loc.place is None
    assert loc.why.startswith("unknown, because the sources disagree: geoip:good says KR")
    assert f"{REG} says JP" in loc.why and "50.0% of 300 right" in loc.why
    assert "the answer would have been JP" in loc.why


def test_a_lone_database_against_the_registry_country_is_a_split() -> None:
    # GeoLite2 has no row (IPv6): DB-IP alone says NL, the registry country says DE. The
    # registry never outvotes a database, and it cannot settle a split it is a party to
    evidence = [geoip("geoip:a", "NL"), geoip(REG, "DE")]
    loc = merge_facts("2001:db8::1", evidence, calibration=TIES).location
    assert loc.place is None and loc.basis == "sources-disagree"
    assert "geoip:a says NL" in loc.why and f"{REG} says DE" in loc.why
    # two databases agreeing outweigh it; a database far more trusted does too
    two = [geoip("geoip:a", "NL"), geoip("geoip:b", "NL"), geoip(REG, "DE")]
    assert merge_facts("2001:db8::1", two, calibration=TIES).location.country == "NL"
    weak_registry = replace(TIES, sources={**TIES.sources, REG: m(700, 1000)})
    assert merge_facts("5.5.5.5", evidence, calibration=weak_registry).location.country == "NL"
    # where they agree, the registry only confirms
    same = [geoip("geoip:a", "NL"), geoip(REG, "NL")]
    assert merge_facts("5.5.5.5", same, calibration=TIES).location.country == "NL"
