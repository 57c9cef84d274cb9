"""A small real-format dataset for locate tests: real feed snapshots plus tiny mmdbs.

The mmdbs are written here with mmdb-writer in both record layouts (MaxMind's
nested ``country.iso_code`` and ip-location-db's flat ``country_code``), so the
same reading code that serves real GeoLite2/DB-IP files is what gets tested.
"""

from __future__ import annotations

from pathlib import Path

from netaddr import IPSet

from residency.locate.index.specs import SourceSpec
from residency.model import DataVersion
from tests.support import FIXTURES, SHARED_DATA

FEEDS = SHARED_DATA / "feeds"
ANYCAST = SHARED_DATA / "anycast"

#: (network, MaxMind-layout country, ip-location-db-layout country)
GEOIP_ROWS = [
    ("1.1.1.0/24", "AU", "AU"),
    ("13.228.0.0/15", "SG", "SG"),
    ("52.66.0.0/16", "IN", "IN"),
    ("20.50.0.0/16", "NL", "NL"),
    ("81.2.69.0/24", "GB", "GB"),
    ("2.16.0.0/16", "DE", "FR"),  # the two GeoIP databases disagree here
    ("5.5.5.0/24", "JP", "JP"),  # only GeoIP knows this one
]


def write_maxmind_layout(path: Path) -> Path:
    from mmdb_writer import MMDBWriter

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    for net, cc, _ in GEOIP_ROWS:
        writer.insert_network(IPSet([net]), {"country": {"iso_code": cc, "names": {"en": cc}}})
    writer.insert_network(IPSet(["2a05:d018::/32"]), {"country": {"iso_code": "IE"}})
    writer.to_db_file(str(path))
    return path


def write_ipdb_layout(path: Path) -> Path:
    from mmdb_writer import MMDBWriter

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="ip-location-db")
    for net, _, cc in GEOIP_ROWS:
        writer.insert_network(IPSet([net]), {"country_code": cc})
    # contradicts the AWS feed (eu-west-1, Ireland) and the MaxMind-layout db
    writer.insert_network(IPSet(["2a05:d018::/32"]), {"country_code": "US"})
    writer.to_db_file(str(path))
    return path


def feed_spec(dataset: str, kind: str, rel: str) -> SourceSpec:
    path = FEEDS / rel
    return SourceSpec(
        dataset=dataset,
        kind=kind,
        version="",
        files=(path,),
        parser=dataset,
        data_version=DataVersion(dataset=dataset, version=path.stem, origin=str(path)),
    )


def anycast_spec() -> SourceSpec:
    """bgp.tools' measured anycast list, the v4 and v6 snapshots of 2026-08-22."""
    files = tuple(ANYCAST / f"bgptools-anycatch-v{v}_2026-08-22.txt" for v in (4, 6))
    return SourceSpec(
        dataset="bgptools-anycast",
        kind="anycast",
        version="",
        files=files,
        parser="bgptools-anycast",
        data_version=DataVersion(dataset="bgptools-anycast", version="2026-08-22"),
    )


def small_dataset(tmp: Path) -> list[SourceSpec]:
    """Feeds from ../shared/data plus two tiny GeoIP databases and an ASN CSV."""
    maxmind = write_maxmind_layout(tmp / "GeoLite2-Country-test.mmdb")
    ipdb = write_ipdb_layout(tmp / "ipdb-country-test.mmdb")
    return [
        feed_spec("aws-ip-ranges", "feed", "aws/aws-ip-ranges_2026-08-22.json"),
        feed_spec("aws-geofeed", "geofeed", "aws-geofeed/aws-geo-ip-feed_2025-09-18.csv"),
        feed_spec("azure-service-tags", "feed", "azure/azure-ServiceTags_Public_2026-05-06.json"),
        feed_spec("cloudflare-ips", "feed", "cloudflare/cloudflare-ips-v4_2026-05-06.txt"),
        feed_spec("gcp-cloud", "feed", "gcp/gcp-cloud_2026-08-22.json"),
        anycast_spec(),
        SourceSpec("test-maxmind", "mmdb-country", "test-1", (maxmind,)),
        SourceSpec("test-ipdb", "mmdb-country", "test-1", (ipdb,)),
        SourceSpec("test-asn", "asn-csv", "test-1", (FIXTURES / "locate" / "asn-ipv4.csv",)),
    ]


def imported_dataset(tmp: Path) -> Path:
    """The same small dataset, put in place the way users do it: ``residency data import``
    (so the manifest, provenance and the locator's manifest path are all exercised)."""
    from residency.datasets.importer import import_files

    directory = tmp / "datasets"
    maxmind = write_maxmind_layout(tmp / "GeoLite2-Country-test.mmdb")
    ipdb = write_ipdb_layout(tmp / "ipdb-country-test.mmdb")
    plan: list[tuple[str, list[Path]]] = [
        ("aws-ip-ranges", [FEEDS / "aws/aws-ip-ranges_2026-08-22.json"]),
        ("aws-geofeed", [FEEDS / "aws-geofeed/aws-geo-ip-feed_2025-09-18.csv"]),
        ("azure-service-tags", [FEEDS / "azure/azure-ServiceTags_Public_2026-05-06.json"]),
        ("cloudflare-ips", [FEEDS / "cloudflare/cloudflare-ips-v4_2026-05-06.txt"]),
        ("gcp-cloud", [FEEDS / "gcp/gcp-cloud_2026-08-22.json"]),
        ("bgptools-anycast", [ANYCAST / "bgptools-anycatch-v4_2026-08-22.txt"]),
        ("dbip-country", [maxmind]),
        ("geo-whois-asn-country", [ipdb]),
        ("ipdb-asn", [FIXTURES / "locate" / "asn-ipv4.csv"]),
    ]
    for dataset, files in plan:
        report = import_files(files, as_dataset=dataset, directory=directory)
        assert report.ok, report.outcomes
    return directory
