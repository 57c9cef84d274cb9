"""Feed parsers against small fixtures of our own, including broken input."""

from __future__ import annotations

import gzip
import ipaddress
import itertools
import json
from pathlib import Path

import msgpack
import pytest

from residency.datasets.errors import DatasetError, FeedInvalid
from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers import PARSERS, aws, cloudip, ipdb_asn, make_geofeed_parser
from residency.datasets.parsers._common import canonical_network
from residency.errors import ResidencyError
from residency.model import EvidenceKind, Place
from tests.support import FIXTURES

HERE = FIXTURES / "datasets"


def fixture(name: str) -> bytes:
    return (HERE / name).read_bytes()


def by_network(feed: ParsedFeed) -> dict[str, RangeRecord]:
    result: dict[str, RangeRecord] = {}
    for record in feed.records:
        assert record.network not in result, f"duplicate record for {record.network}"
        result[record.network] = record
    return result


def cloudip_bytes() -> bytes:
    doc = json.loads(fixture("cloudip-sample.json"))
    return gzip.compress(msgpack.packb(doc))


# ------------------------------------------------------------------------ AWS


def test_aws_keeps_most_specific_service_once_per_prefix() -> None:
    feed = PARSERS["aws-ip-ranges"](fixture("aws-ip-ranges.json"))
    assert feed.dataset == "aws-ip-ranges"
    assert feed.version == "2026-01-02-03-04-05 (syncToken 1700000000)"
    nets = by_network(feed)
    assert nets["13.228.0.0/15"].service == "EC2"
    assert nets["13.228.0.0/15"].region == "ap-southeast-1"
    assert nets["52.219.0.0/20"].service == "S3"  # AMAZON and EC2 dropped
    assert nets["52.94.0.0/22"].service == "AMAZON"  # nothing more specific
    assert all(r.provider == "aws" and r.place is None for r in feed.records)
    assert all(r.kind is EvidenceKind.PROVIDER_FEED for r in feed.records)


def test_aws_local_zone_is_the_region() -> None:
    nets = by_network(PARSERS["aws-ip-ranges"](fixture("aws-ip-ranges.json")))
    assert nets["15.181.232.0/21"].region == "us-east-1-iah-1"


def test_aws_global_accelerator_is_anycast_cloudfront_is_not() -> None:
    nets = by_network(PARSERS["aws-ip-ranges"](fixture("aws-ip-ranges.json")))
    # a CloudFront edge is a unicast server picked by DNS: a CDN edge, not anycast
    cloudfront = nets["13.32.0.0/15"]
    assert (cloudfront.region, cloudfront.service, cloudfront.anycast) == (
        "GLOBAL",
        "CLOUDFRONT",
        False,
    )
    assert aws.is_anycast("GLOBAL", ["AMAZON", "GLOBALACCELERATOR"])
    assert aws.is_anycast("GLOBAL", ["ROUTE53"])
    assert not aws.is_anycast("us-east-1", ["GLOBALACCELERATOR"])
    assert nets["52.94.0.0/22"].anycast is False
    assert nets["13.228.0.0/15"].anycast is False


def test_aws_normalises_networks_and_notes_bad_entries() -> None:
    feed = PARSERS["aws-ip-ranges"](fixture("aws-ip-ranges.json"))
    nets = by_network(feed)
    assert "52.66.0.0/16" in nets  # host bits cleared
    assert "2406:da18::/32" in nets  # lower-cased, canonical
    assert len(feed.notes) == 1 and "not-a-prefix" in feed.notes[0]


def test_aws_truncated_json_is_invalid() -> None:
    with pytest.raises(FeedInvalid, match=r"^aws-ip-ranges: invalid JSON at line \d+") as info:
        PARSERS["aws-ip-ranges"](fixture("aws-ip-ranges-truncated.json"))
    assert "truncated" in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "aws-ip-ranges: the file is empty"),
        (b"   \n", "aws-ip-ranges: the file is empty"),
        (b"[]", "aws-ip-ranges: expected a JSON object at the top level, got a list"),
        (b'{"createDate": "x"}', "aws-ip-ranges: missing key 'prefixes'"),
        (b'{"createDate": "x", "prefixes": []}', "aws-ip-ranges: no IP ranges found"),
        (b'{"prefixes": [{"ip_prefix": "1.2.3.0/24", "region": "x"}]}', "missing 'createDate'"),
        (b"\xff\xfe\x00garbage", "aws-ip-ranges: not UTF-8 text"),
    ],
)
def test_aws_wrong_content_gives_one_clear_line(content: bytes, message: str) -> None:
    with pytest.raises(FeedInvalid) as info:
        PARSERS["aws-ip-ranges"](content)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------- Google


def test_gcp_scope_is_region_and_global_is_anycast() -> None:
    feed = PARSERS["gcp-cloud"](fixture("gcp-cloud.json"))
    assert feed.version == "2026-08-22T07:04:30.974055 (syncToken 1787407470974)"
    nets = by_network(feed)
    assert len(nets) == 3  # the repeated prefix is kept once
    assert nets["34.35.0.0/16"].region == "africa-south1"
    assert nets["34.35.0.0/16"].service == "Google Cloud"
    assert nets["2600:1900:8000::/44"].provider == "gcp"
    assert nets["34.54.0.0/16"].anycast is True
    assert nets["34.35.0.0/16"].anycast is False


def test_goog_is_provider_google_without_region() -> None:
    feed = PARSERS["google-goog"](fixture("goog.json"))
    assert {r.network for r in feed.records} == {"8.8.4.0/24", "8.8.8.0/24", "2001:4860::/32"}
    assert all(r.provider == "google" and r.region is None for r in feed.records)


def test_gcp_rejects_aws_file() -> None:
    with pytest.raises(FeedInvalid, match=r"^gcp-cloud: an entry has neither ipv4Prefix"):
        PARSERS["gcp-cloud"](fixture("aws-ip-ranges.json"))


# -------------------------------------------------------------------- Azure


def test_azure_region_and_most_specific_service() -> None:
    feed = PARSERS["azure-service-tags"](fixture("azure-service-tags.json"))
    assert feed.version == "changeNumber 398"
    nets = by_network(feed)
    assert nets["20.38.0.0/24"].region == "westeurope"
    assert nets["20.38.0.0/24"].service == "Storage"
    assert nets["20.50.0.0/18"].region == "westeurope"
    assert nets["20.50.0.0/18"].service == "AzureCloud"
    assert nets["20.52.64.0/21"].region == "germanywc"  # short name kept as published


def test_azure_front_door_is_anycast_and_non_regional() -> None:
    nets = by_network(PARSERS["azure-service-tags"](fixture("azure-service-tags.json")))
    edge = nets["13.107.246.0/24"]
    assert (edge.region, edge.service, edge.anycast) == (None, "AzureFrontDoor.Frontend", True)
    assert nets["2620:1ec:bdf::/48"].anycast is True
    assert nets["20.38.0.0/24"].anycast is False


def test_azure_missing_values_is_invalid() -> None:
    with pytest.raises(FeedInvalid, match=r"^azure-service-tags: missing key 'values'"):
        PARSERS["azure-service-tags"](fixture("oracle-ip-ranges.json"))


# --------------------------------------------------------------- the others


def test_oracle_regions_and_tags() -> None:
    feed = PARSERS["oracle-ip-ranges"](fixture("oracle-ip-ranges.json"))
    assert feed.version == "2025-07-21T07:13:25.457838"
    nets = by_network(feed)
    assert nets["130.61.0.0/16"].region == "eu-frankfurt-1"
    assert nets["132.145.0.0/16"].service == "OCI+OSN"
    assert nets["134.70.24.0/21"].service == "OBJECT_STORAGE"


def test_cloudflare_text_list_is_anycast_without_place() -> None:
    feed = PARSERS["cloudflare-ips"](fixture("cloudflare-ips.txt"))
    assert [r.network for r in feed.records] == [
        "173.245.48.0/20",
        "104.16.0.0/13",
        "2606:4700::/32",
    ]
    assert all(r.anycast and r.place is None and r.provider == "cloudflare" for r in feed.records)
    assert feed.version.startswith("sha256:") and len(feed.version) == len("sha256:") + 12


def test_cloudflare_api_json_uses_etag() -> None:
    feed = PARSERS["cloudflare-ips"](fixture("cloudflare-api.json"))
    assert feed.version == "etag 38f79d050aa027e3be3865e495dcc9bc"
    assert {r.network for r in feed.records} == {"173.245.48.0/20", "2400:cb00::/32"}


def test_cloudflare_html_error_page_is_invalid() -> None:
    with pytest.raises(FeedInvalid, match=r"^cloudflare-ips: line 1 is not an IP network"):
        PARSERS["cloudflare-ips"](fixture("error-page.html"))


def test_fastly_is_anycast() -> None:
    feed = PARSERS["fastly-ip-list"](fixture("fastly-ip-list.json"))
    assert {r.network for r in feed.records} == {
        "151.101.0.0/16",
        "199.232.0.0/16",
        "2a04:4e42::/32",
    }
    assert all(r.anycast and r.provider == "fastly" for r in feed.records)


def test_fastly_wrong_shape_is_invalid() -> None:
    with pytest.raises(FeedInvalid, match=r"^fastly-ip-list: missing key 'addresses'"):
        PARSERS["fastly-ip-list"](fixture("goog.json"))


def test_github_services_are_keys_and_domains_are_skipped() -> None:
    feed = PARSERS["github-meta"](fixture("github-meta.json"))
    services = {r.network: r.service for r in by_network(feed).values()}
    assert services == {
        "192.30.252.0/22": "hooks+web",
        "2a0a:a440::/29": "hooks",
        "20.201.28.151/32": "web",
        "4.148.0.0/16": "actions",
    }
    assert all(r.provider == "github" and r.place is None for r in feed.records)
    assert any("ssh_keys" in note for note in feed.notes)
    assert feed.version.startswith("sha256:")


# ----------------------------------------------------------------- geofeeds


def test_geofeed_rows_become_places() -> None:
    feed = PARSERS["linode-geofeed"](fixture("geofeed.csv"))
    assert feed.version == "2025-07-24 10:00:06"
    nets = by_network(feed)
    assert all(r.kind is EvidenceKind.GEOFEED and r.provider == "linode" for r in feed.records)
    assert nets["2600:3c00::/32"].place == Place("US", "US-TX", "Richardson")
    assert nets["192.0.2.0/24"].place == Place("GB", "GB-LND", "London")
    assert nets["198.51.100.0/25"].place == Place("GB")  # "uk" -> GB
    assert nets["198.51.100.128/25"].place is None  # RFC 8805: empty country = no location
    assert nets["100.64.0.0/24"].place == Place("DE", "DE-HE", "Frankfurt am Main")
    # host bits set: an address where a network was meant; dropped, never widened
    assert "10.0.0.0/8" not in nets


def test_geofeed_keeps_what_the_feed_says_and_first_entry_wins() -> None:
    feed = PARSERS["aws-geofeed"](fixture("geofeed.csv"))
    nets = by_network(feed)
    assert nets["203.0.113.0/24"].place == Place("CN", "CN-HK", "Hong Kong")
    assert nets["203.0.113.0/24"].provider == "aws"
    assert any("repeated" in note for note in feed.notes)
    assert any("'this is not a prefix' is not an IP prefix, line 11" in n for n in feed.notes)


def test_geofeed_json_variant() -> None:
    feed = PARSERS["vultr-geofeed"](fixture("vultr-geofeed.json"))
    assert feed.version == "2024-04-18T07:55:40-04:00"
    nets = by_network(feed)
    assert nets["8.3.29.0/24"].place == Place("US", "US-CA", "Los Angeles")
    assert nets["2001:19f0:6c00::/38"].place == Place("DE", "DE-HE", "Frankfurt")
    assert nets["8.3.29.0/24"].provider == "vultr"


def test_geofeed_latin1_is_read_with_a_note() -> None:
    feed = PARSERS["geofeed"]("192.0.2.0/24,DE,DE-BY,Nürnberg,\n".encode("latin-1"))
    assert feed.records[0].place == Place("DE", "DE-BY", "Nürnberg")
    assert feed.notes == ("not UTF-8; read as Latin-1",)


def test_user_geofeed_has_no_provider() -> None:
    feed = PARSERS["geofeed"](fixture("geofeed.csv"))
    assert feed.dataset == "geofeed"
    assert all(r.provider is None for r in feed.records)


def test_geofeed_factory_names_dataset_and_provider() -> None:
    parse = make_geofeed_parser("example-geofeed", "hetzner")
    feed = parse(b"192.0.2.0/24,DE,DE-BY,Nuremberg,\n")
    assert feed.dataset == "example-geofeed"
    assert feed.records[0].provider == "hetzner"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"# only a comment\n", "no IP ranges found"),
        (fixture("error-page.html"), "got HTML/XML, not a geofeed CSV"),
        (b"prefix,country\nnot,valid\n", "no IP ranges found"),
        (fixture("aws-ip-ranges.json"), "missing key 'subnets'"),
        (b'{"subnets": [{"ip_prefix": "1.2.3', "invalid JSON"),
    ],
)
def test_geofeed_bad_input(content: bytes, message: str) -> None:
    with pytest.raises(FeedInvalid, match=r"^digitalocean-geofeed: ") as info:
        PARSERS["digitalocean-geofeed"](content)
    assert message in str(info.value)


# ------------------------------------------------------------------ cloudip


def test_cloudip_sample_normalised_like_first_party_feeds() -> None:
    feed = PARSERS["cloudip"](cloudip_bytes())
    assert feed.version == "2026-10-26"
    got = {(r.network, r.provider): r for r in feed.records}
    assert len(got) == len(feed.records)
    aws = got[("13.228.0.0/15", "aws")]
    assert (aws.region, aws.service, aws.anycast) == ("ap-southeast-1", "EC2", False)
    assert got[("13.32.0.0/15", "aws")].anycast is False  # CloudFront: a CDN edge
    assert got[("34.54.0.0/16", "gcp")].anycast is True
    assert got[("34.35.0.0/16", "gcp")].region == "africa-south1"
    assert got[("104.16.0.0/13", "cloudflare")].anycast is True
    azure = got[("20.50.0.0/18", "azure")]
    assert (azure.region, azure.service) == ("westeurope", "STORAGE")
    ocean = got[("103.253.145.0/24", "digitalocean")]
    assert ocean.region is None and ocean.place == Place("SG", "SG-05")
    assert got[("130.61.0.0/16", "oracle")].region == "eu-frankfurt-1"


def test_cloudip_uncompressed_msgpack_also_reads() -> None:
    raw = gzip.decompress(cloudip_bytes())
    assert len(cloudip.parse(raw).records) == len(cloudip.parse(cloudip_bytes()).records)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip data"),
        (gzip.compress(b"\xc1\xc1\xc1"), "not a MessagePack database"),
        (gzip.compress(msgpack.packb([1, 2])), "expected a map at the top level"),
        (gzip.compress(msgpack.packb({"version": "x"})), "missing 'providers' or 'ranges'"),
        (
            gzip.compress(msgpack.packb({"version": "x", "providers": ["aws"], "ranges": []})),
            "no IP ranges found",
        ),
        (
            gzip.compress(
                msgpack.packb(
                    {"version": "x", "providers": [], "ranges": [{"cidr": "1.0.0.0/8", "p": 0}]}
                )
            ),
            "unknown provider index",
        ),
        (
            gzip.compress(
                msgpack.packb({"version": "x", "providers": ["aws"], "ranges": [{"p": 0}]})
            ),
            "a range entry lacks 'cidr' or 'p'",
        ),
    ],
)
def test_cloudip_bad_input(content: bytes, message: str) -> None:
    with pytest.raises(FeedInvalid, match=r"^cloudip: ") as info:
        cloudip.parse(content)
    assert message in str(info.value)


def test_cloudip_truncated_download() -> None:
    data = cloudip_bytes()
    with pytest.raises(FeedInvalid, match=r"^cloudip: "):
        cloudip.parse(data[: len(data) // 2])


# ----------------------------------------------------------------- ipdb-asn


def test_ipdb_asn_ranges_and_cidrs() -> None:
    data = fixture("ipdb-asn.csv")
    ranges = list(ipdb_asn.parse_ranges(data))
    assert ranges[0] == (0x01000000, 0x010000FF, 13335, "CLOUDFLARENET")
    assert ranges[1][3] == "Wirefreebroadband Pty, Ltd"
    assert ranges[3][2] == 2500 and ranges[3][0] == int(ipaddress.IPv6Address("2001:200::"))
    feed = ipdb_asn.parse(data)
    nets = {r.network: r for r in feed.records}
    assert nets["1.0.0.0/24"].asn == 13335
    assert nets["1.0.4.0/22"].org == "Wirefreebroadband Pty, Ltd"
    # 1.0.16.0 - 1.0.16.10 is not one CIDR: it is split exactly
    assert {n for n in nets if nets[n].asn == 2519} == {
        "1.0.16.0/29",
        "1.0.16.8/31",
        "1.0.16.10/32",
    }
    assert nets["2001:200::/32"].asn == 2500
    assert all(r.kind is EvidenceKind.ASN and r.provider is None for r in feed.records)


def test_ipdb_asn_numeric_form() -> None:
    ranges = list(ipdb_asn.iter_ranges(fixture("ipdb-asn-num.csv")))
    assert ranges == [
        (16777216, 16777471, 13335, "CLOUDFLARENET"),
        (16778240, 16779263, 38803, "Wirefreebroadband Pty Ltd"),
    ]
    assert {r.network for r in ipdb_asn.parse(fixture("ipdb-asn-num.csv")).records} == {
        "1.0.0.0/24",
        "1.0.4.0/22",
    }


def test_ipdb_asn_range_form_is_ordered_integers() -> None:
    rows = "\n".join(f"1.0.{i}.0,1.0.{i}.255,{64500 + i},Org {i}" for i in range(200))
    ranges = list(ipdb_asn.parse_ranges(rows.encode()))
    assert len(ranges) == 200
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (fixture("geofeed.csv"), "is not 'start_ip,end_ip,asn,org'"),
        (b"1.0.0.0,1.0.0.255,notanumber,x\n", "no ASN ranges found"),
        (b"1.0.0.255,1.0.0.0,13335,backwards\n", "no ASN ranges found"),
    ],
)
def test_ipdb_asn_bad_input(content: bytes, message: str) -> None:
    with pytest.raises(FeedInvalid, match=r"^ipdb-asn: ") as info:
        list(ipdb_asn.parse_ranges(content))
    assert message in str(info.value)


# ------------------------------------------------------------------- shared


def test_every_parser_module_exposes_parse() -> None:
    from residency.datasets import parsers as package

    names = ("aws", "azure", "cloudflare", "cloudip", "fastly", "gcp", "geofeed", "github")
    names += ("google", "ipdb_asn", "oracle")
    for name in names:
        module = __import__(f"{package.__name__}.{name}", fromlist=["parse"])
        assert callable(module.parse), name
    assert package.geofeed.parse(b"192.0.2.0/24,FR,FR-IDF,Paris,\n").dataset == "geofeed"


def test_registry_covers_every_format_and_each_parser_rejects_garbage() -> None:
    assert set(PARSERS) >= {
        "aws-ip-ranges",
        "gcp-cloud",
        "google-goog",
        "azure-service-tags",
        "oracle-ip-ranges",
        "cloudflare-ips",
        "fastly-ip-list",
        "github-meta",
        "aws-geofeed",
        "digitalocean-geofeed",
        "linode-geofeed",
        "vultr-geofeed",
        "geofeed",
        "cloudip",
        "ipdb-asn",
    }
    for dataset, parse in PARSERS.items():
        with pytest.raises(FeedInvalid) as info:
            parse(fixture("error-page.html"))
        message = str(info.value)
        assert message.startswith(f"{dataset}: "), message
        assert "\n" not in message


def test_feed_invalid_is_a_residency_error() -> None:
    assert issubclass(FeedInvalid, DatasetError)
    assert issubclass(DatasetError, ResidencyError)


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.1/8",
        "13.228.0.0/15",
        "1.2.3.4",
        "0.0.0.0/0",
        "2406:DA18::/32",
        "2001:db8:0:0:1:0:0:1/128",
        "2001:0:0:1::/64",
        "::ffff:1.2.3.4/128",
        "fe80::1/10",
        "::/0",
        "01.2.3.4/8",
        "1.2.3.4/33",
        "1.2.3/24",
        "2001:db8::/129",
        "junk",
        "1.2.3.4/-1",
        "1.2.3.4/ 8",
    ],
)
def test_canonical_network_matches_ipaddress(text: str) -> None:
    try:
        expected: str | None = str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        expected = None
    assert canonical_network(text) == expected


def test_fixture_folder_is_present() -> None:
    assert isinstance(HERE, Path) and (HERE / "aws-ip-ranges.json").is_file()
