"""The locator over real feed snapshots and real-format mmdbs: the cases that must be right."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.locate.errors import InvalidAddress
from residency.locate.locator import Locator
from residency.model import Confidence, Evidence, EvidenceKind
from tests.locate.fixtures import small_dataset
from tests.support import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")


@pytest.fixture(scope="module")
def locator(tmp_path_factory: pytest.TempPathFactory) -> Locator:
    tmp = tmp_path_factory.mktemp("dataset")
    return Locator.load(tmp, sources=small_dataset(tmp), compiled_dir=tmp / "compiled")


def test_aws_singapore(locator: Locator) -> None:
    facts = locator.locate("13.228.0.1")
    assert (facts.provider, facts.region) == ("aws", "ap-southeast-1")
    assert facts.location.country == "SG"
    assert facts.location.confidence is Confidence.HIGH
    assert facts.location.basis == "provider-feed"
    assert facts.asn == 16509
    sources = {e.source for e in facts.evidence}
    assert {"aws-ip-ranges", "aws-geofeed", "geoip:test-maxmind", "geoip:test-ipdb"} <= sources
    feed = next(e for e in facts.evidence if e.source == "aws-ip-ranges")
    assert feed.prefix == "13.228.0.0/15" and feed.version
    assert facts.operator is not None and facts.operator.jurisdiction == "US"


def test_aws_mumbai(locator: Locator) -> None:
    facts = locator.locate("52.66.77.88")
    assert (facts.provider, facts.region, facts.location.country) == ("aws", "ap-south-1", "IN")
    assert facts.location.place is not None and facts.location.place.city == "Mumbai"
    assert not facts.disagreements


def test_azure_westeurope_is_netherlands(locator: Locator) -> None:
    facts = locator.locate("20.50.2.1")
    assert facts.provider == "azure"
    assert facts.region == "westeurope"
    assert facts.location.country == "NL"


def test_cloudflare_anycast_is_indeterminate(locator: Locator) -> None:
    facts = locator.locate("1.1.1.1")
    assert facts.provider == "cloudflare"
    assert facts.anycast and facts.cdn
    assert facts.location.place is None
    assert facts.location.confidence is Confidence.NONE
    assert "AU" in facts.location.why  # what GeoIP claimed is shown, not used
    assert any(e.kind is EvidenceKind.GEOIP for e in facts.evidence)


def test_cloudflare_feed_range_is_anycast(locator: Locator) -> None:
    facts = locator.locate("104.16.1.1")
    assert facts.provider == "cloudflare" and facts.anycast
    assert facts.location.country is None


@pytest.mark.parametrize(
    ("ip", "reason"),
    [("10.1.2.3", "RFC 1918"), ("127.0.0.1", "loopback"), ("fe80::1", "link-local")],
)
def test_not_routable(locator: Locator, ip: str, reason: str) -> None:
    facts = locator.locate(ip)
    assert not facts.routable
    assert facts.not_routable_reason is not None and reason in facts.not_routable_reason
    assert facts.location.place is None


def test_geoip_disagreement_is_shown_not_hidden(locator: Locator) -> None:
    facts = locator.locate("2.16.3.4")
    assert facts.location.place is None
    assert facts.location.basis == "sources-disagree"
    assert any("DE" in d and "FR" in d for d in facts.disagreements)


def test_geoip_consensus_when_no_feed(locator: Locator) -> None:
    facts = locator.locate("5.5.5.5")
    assert facts.location.country == "JP"
    assert facts.location.basis == "geoip-consensus"
    # the confidence is what two agreeing GeoIP sources measured on an unlisted network
    assert facts.location.answer == "geoip:unanimous"
    level, measured = locator.calibration.level("geoip:unanimous", "unlisted")
    assert facts.location.confidence is level and measured in facts.location.why


def test_feed_beats_geoip_and_disagreement_listed(locator: Locator) -> None:
    # 2a05:d018::/32 is AWS eu-west-1 (Ireland) in the feed and the MaxMind-layout db;
    # the ip-location-db-layout db says US
    facts = locator.locate("2a05:d018::1")
    assert (facts.provider, facts.region) == ("aws", "eu-west-1")
    assert facts.location.country == "IE"
    assert facts.location.basis == "provider-feed"
    # one GeoIP source of two dissents: the feed's answer, as contested feeds measured
    assert facts.location.answer == "feed:contested"
    level, _ = locator.calibration.level("feed:contested", "hyperscaler")
    assert facts.location.confidence is level
    assert any(d.startswith("geoip:test-ipdb says US") for d in facts.disagreements)
    assert not any("test-maxmind" in d for d in facts.disagreements)


def test_loopback_and_embedded_ipv4(locator: Locator) -> None:
    loopback = locator.locate("::1")
    assert not loopback.routable and "loopback" in (loopback.not_routable_reason or "")
    assert "unspecified" in (locator.locate("::").not_routable_reason or "")
    for ip, what in (("::ffff:13.228.0.1", "IPv4-mapped"), ("64:ff9b::13.228.0.1", "NAT64")):
        facts = locator.locate(ip)
        assert facts.ip == locator.locate(ip).ip  # the address as asked, canonical
        assert (facts.provider, facts.region, facts.location.country) == (
            "aws",
            "ap-southeast-1",
            "SG",
        )
        assert what in facts.location.why and "13.228.0.1" in facts.location.why
        assert any(what in e.note and "13.228.0.1" in e.note for e in facts.evidence)
        (bulk,) = locator.locate_many([ip])
        assert bulk == facts
        assert list(locator.enrich([ip]).column("country")) == ["SG"]


def test_hostname_hint_adds_evidence(locator: Locator) -> None:
    hint = Evidence(
        source="hostname-patterns",
        kind=EvidenceKind.HOSTNAME,
        version="t",
        provider="aws",
        region="eu-west-1",
        note="x.eu-west-1.elb.amazonaws.com",
    )
    facts = locator.locate("13.228.0.1", hints=[hint])
    assert hint in facts.evidence
    assert any("eu-west-1" in d for d in facts.disagreements)


def test_invalid_address(locator: Locator) -> None:
    with pytest.raises(InvalidAddress, match=r"'999\.1\.1\.1'"):
        locator.locate("999.1.1.1")
    with pytest.raises(InvalidAddress):
        locator.locate_many(["1.1.1.1", "nope"])


def test_bulk_matches_single(locator: Locator) -> None:
    ips = ["13.228.0.1", "52.66.0.9", "1.1.1.1", "10.0.0.1", "2a05:d018::5", "5.5.5.5"]
    bulk = locator.locate_many(ips)
    for ip, facts in zip(ips, bulk, strict=True):
        single = locator.locate(ip)
        assert facts.location == single.location and facts.provider == single.provider


def test_prefix_for_country(locator: Locator) -> None:
    prefix = locator.prefix_for_country("IN")
    assert prefix is not None and prefix.endswith("/24")
    assert locator.locate(prefix.split("/")[0]).location.country == "IN"
    assert locator.prefix_for_country("ZZ") is None


def test_recompiles_only_when_sources_change(tmp_path: Path) -> None:
    specs = small_dataset(tmp_path)
    Locator.load(tmp_path, sources=specs, compiled_dir=tmp_path / "c")
    meta = tmp_path / "c" / "meta.json"
    before = meta.stat().st_mtime_ns
    Locator.load(tmp_path, sources=specs, compiled_dir=tmp_path / "c")
    assert meta.stat().st_mtime_ns == before


def test_bulk_enrichment_columns_match_single_lookups(locator: Locator) -> None:
    ips = ["13.228.0.1", "52.66.0.9", "1.1.1.1", "10.0.0.1", "2a05:d018::5", "5.5.5.5"]
    enriched = locator.enrich(ips)
    countries = list(enriched.column("country"))
    providers = list(enriched.column("provider"))
    assert countries == ["SG", "IN", "", "", "IE", "JP"]
    assert providers[:3] == ["aws", "aws", "cloudflare"]
    flags = enriched.column("flags")
    assert not flags[3] & 1  # 10.0.0.1: not routable
    assert flags[2] & 2  # 1.1.1.1: anycast
    assert enriched.facts(0) == locator.locate("13.228.0.1")


def test_google_cloud_regional_address_is_located_not_anycast(locator: Locator) -> None:
    # 34.40.0.0/17 is europe-west3 (Frankfurt) in cloud.json, inside the 34.32.0.0/11
    # aggregate that bgp.tools measures as anycast
    facts = locator.locate("34.40.0.1")
    assert (facts.provider, facts.region) == ("gcp", "europe-west3")
    assert not facts.anycast and not facts.cdn
    assert facts.location.country == "DE" and facts.location.basis == "provider-feed"
    assert any(e.kind is EvidenceKind.ANYCAST for e in facts.evidence)  # shown, outranked


def test_measured_anycast_address_is_anycast(locator: Locator) -> None:
    facts = locator.locate("1.1.1.1")  # not in Cloudflare's own list; documented and measured
    assert facts.anycast and facts.anycast_basis.startswith("documented by Cloudflare")
    assert any(e.source == "bgptools-anycast" for e in facts.evidence)
    assert facts.location.place is None and facts.location.basis == "anycast"
    assert facts.cdn_edge is not None and facts.cdn_edge.vendor == "cloudflare"


def test_google_cloud_global_address_is_published_anycast(locator: Locator) -> None:
    facts = locator.locate("34.120.0.1")  # scope "global" in cloud.json: load balancers
    assert facts.anycast and facts.anycast_basis.startswith("published by gcp-cloud")
    assert facts.location.place is None
