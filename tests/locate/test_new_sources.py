"""The new sources in the locator: provider geofeeds over GeoIP, GeoLite2 City as a third
GeoIP opinion, ``--geoip`` files in IPinfo Lite and IP2Location LITE layouts, and the
GeoLite2 attribution in every report that lists sources."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from netaddr import IPSet

from residency.cli import cli
from residency.locate.index.mmdb_layout import detect_layout
from residency.locate.locator import LocateError, Locator, SourceSpec, user_geoip_sources
from residency.model import Confidence, DataVersion, EvidenceKind
from residency.report import render
from tests.locate.fixtures import write_ipdb_layout, write_maxmind_layout
from tests.report.sample import unjudged
from tests.support import FIXTURES

GCP = FIXTURES / "datasets" / "cloud_geofeed.csv"
MSFT = FIXTURES / "datasets" / "geoloc-Microsoft.csv"


def write(path: Path, database_type: str, rows: dict[str, dict[str, Any]]) -> Path:
    from mmdb_writer import MMDBWriter

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type)
    for net, record in rows.items():
        writer.insert_network(IPSet([net]), record)
    writer.to_db_file(str(path))
    return path


def geoip(path: Path, country: str, *nets: str) -> Path:
    """A MaxMind-layout GeoIP database that puts ``nets`` in ``country``."""
    rows = {net: {"country": {"iso_code": country}} for net in nets}
    return write(path, "GeoLite2-Country", rows)


def geofeed_spec(dataset: str, path: Path) -> SourceSpec:
    return SourceSpec(dataset, "geofeed", "", (path,), parser=dataset)


def load(tmp: Path, specs: list[SourceSpec]) -> Locator:
    return Locator.load(tmp, sources=specs, compiled_dir=tmp / "compiled", with_operators=False)


# ------------------------------------------------------------------ geofeeds over GeoIP


@pytest.mark.parametrize(
    ("dataset", "path", "ip", "country", "city"),
    [
        ("gcp-geofeed", GCP, "34.40.1.2", "DE", "Frankfurt"),
        ("microsoft-geofeed", MSFT, "20.52.1.2", "DE", "Frankfurt Am Main"),
    ],
)
def test_provider_geofeed_decides_over_geoip(
    tmp_path: Path, dataset: str, path: Path, ip: str, country: str, city: str
) -> None:
    wrong = geoip(tmp_path / "geo.mmdb", "US", ip.rsplit(".", 2)[0] + ".0.0/16")
    locator = load(
        tmp_path,
        [geofeed_spec(dataset, path), SourceSpec("test-geoip", "mmdb-country", "1", (wrong,))],
    )
    facts = locator.locate(ip)
    assert facts.location.basis == "geofeed"
    assert facts.location.place is not None
    assert (facts.location.country, facts.location.place.city) == (country, city)
    # The GeoIP database disagrees: the level is what calibration measured for a feed
    # contradicted by GeoIP (below high), never high.
    assert facts.location.answer == "feed:contradicted"
    assert facts.location.confidence in (Confidence.LOW, Confidence.MEDIUM)
    assert any(
        "geoip:test-geoip says US" in d and f"{dataset} says {country}" in d
        for d in facts.disagreements
    )
    kinds = {e.source: e.kind for e in facts.evidence}
    assert kinds[dataset] is EvidenceKind.GEOFEED


# ------------------------------------------------------------------ GeoLite2 City, third opinion


def geolite2_city(path: Path) -> Path:
    """ip-location-db's rebuild of GeoLite2 City: flat record, ``state1`` a name."""
    rows = {
        "2.16.0.0/16": {"country_code": "DE", "state1": "Hesse", "city": "Frankfurt am Main"},
        "81.2.69.0/24": {"country_code": "GB", "state1": "England", "city": "London"},
    }
    return write(path, "city ipv4", rows)


def test_geolite2_city_is_a_third_opinion_that_breaks_a_tie(tmp_path: Path) -> None:
    two = [
        SourceSpec("test-maxmind", "mmdb-country", "1", (write_maxmind_layout(tmp_path / "a"),)),
        SourceSpec("test-ipdb", "mmdb-country", "1", (write_ipdb_layout(tmp_path / "b"),)),
    ]
    tie = load(tmp_path / "two", two).locate("2.16.1.1")  # DE against FR
    assert tie.location.basis == "sources-disagree" and tie.location.place is None
    city = SourceSpec("geolite2-city", "mmdb-country", "1", (geolite2_city(tmp_path / "c"),))
    facts = load(tmp_path / "three", [*two, city]).locate("2.16.1.1")
    assert facts.location.basis == "geoip-majority" and facts.location.country == "DE"
    (claim,) = [e for e in facts.evidence if e.source == "geoip:geolite2-city"]
    assert claim.place is not None and claim.place.city == "Frankfurt am Main"
    assert claim.place.subdivision is None  # "Hesse" is a name, not an ISO 3166-2 code


# ------------------------------------------------------------------ --geoip layouts


def ipinfo_lite(path: Path) -> Path:
    record = {
        "country": "United States",
        "country_code": "US",
        "continent": "North America",
        "continent_code": "NA",
        "asn": "AS15169",
        "as_name": "Google LLC",
        "as_domain": "google.com",
    }
    return write(path, "ipinfo ipinfo_lite.mmdb", {"8.8.8.0/24": record})


def ip2location_nested(path: Path) -> Path:
    record = {
        "country": {"iso_code": "JP", "names": {"en": "Japan"}},
        "subdivisions": [{"names": {"en": "Tokyo"}}],
        "city": {"names": {"en": "Tokyo"}},
    }
    return write(path, "IP2LOCATION-LITE-DB3", {"5.5.5.0/24": record})


def ip2location_flat(path: Path) -> Path:
    record = {"country_short": "JP", "country_long": "Japan", "region": "Tokyo", "city": "Tokyo"}
    return write(path, "IP2LOCATION-LITE-DB3", {"5.5.5.0/24": record})


def test_ipinfo_lite_gives_country_and_asn(tmp_path: Path) -> None:
    path = ipinfo_lite(tmp_path / "ipinfo_lite.mmdb")
    assert detect_layout(path)[0].name == "ipinfo-lite"
    specs = user_geoip_sources([path])
    assert [s.kind for s in specs] == ["mmdb-country", "mmdb-asn"]
    version = specs[0].data_version
    assert version is not None and version.licence and "CC BY-SA 4.0" in version.licence
    assert version.attribution and "IPinfo" in version.attribution
    # 8.8.8.9, not 8.8.8.8: Google Public DNS is documented anycast (data/anycast.toml)
    facts = load(tmp_path, specs).locate("8.8.8.9")
    assert facts.location.country == "US" and facts.location.basis == "geoip-single"
    assert (facts.asn, facts.as_org) == (15169, "Google LLC")


@pytest.mark.parametrize("make", [ip2location_nested, ip2location_flat])
def test_ip2location_lite_layouts(tmp_path: Path, make: Any) -> None:
    path = make(tmp_path / "IP2LOCATION-LITE-DB3.MMDB")
    layout, db_type = detect_layout(path)
    assert (layout.name, db_type) == ("ip2location-lite", "IP2LOCATION-LITE-DB3")
    specs = user_geoip_sources([path])
    assert [s.kind for s in specs] == ["mmdb-country"]
    facts = load(tmp_path, specs).locate("5.5.5.5")
    assert facts.location.place is not None
    assert (facts.location.country, facts.location.place.city) == ("JP", "Tokyo")
    assert facts.location.place.subdivision is None


def test_ip2location_named_file_with_another_database_type(tmp_path: Path) -> None:
    record = {"country": {"iso_code": "JP"}, "city": {"names": {"en": "Tokyo"}}}
    path = write(tmp_path / "IP2LOCATION-LITE-DB3.MMDB", "DB3", {"5.5.5.0/24": record})
    layout, _ = detect_layout(path)
    assert layout.name == "ip2location-lite" and "IP2Location LITE" in layout.attribution


def test_geolite2_file_of_the_user_carries_the_geolite2_licence(tmp_path: Path) -> None:
    (spec,) = user_geoip_sources([write_maxmind_layout(tmp_path / "GeoLite2-Country.mmdb")])
    assert spec.data_version is not None and spec.data_version.attribution
    assert spec.data_version.attribution.startswith("This product includes GeoLite2 data")


def test_unknown_layout_is_one_clear_line(tmp_path: Path) -> None:
    odd = write(tmp_path / "odd.mmdb", "Acme-Geo", {"8.8.8.0/24": {"nation": "US", "n": 1}})
    with pytest.raises(LocateError) as err:
        user_geoip_sources([odd])
    message = str(err.value)
    assert message.startswith(f"{odd}: mmdb in an unknown layout (database_type 'Acme-Geo'")
    assert "record fields n, nation" in message and "\n" not in message


def test_unknown_layout_on_the_command_line_exits_2_without_traceback(tmp_path: Path) -> None:
    odd = write(tmp_path / "odd.mmdb", "Acme-Geo", {"8.8.8.0/24": {"nation": "US"}})
    result = CliRunner().invoke(
        cli,
        ["ip", "--data-dir", str(tmp_path / "data"), "--geoip", str(odd), "8.8.8.8"],
        env={"RESIDENCY_GEOIP": ""},
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and str(odd) in result.stderr
    assert "unknown layout" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------ attribution in the reports


def test_geolite2_attribution_in_json_html_and_markdown() -> None:
    from residency.datasets.sources import SOURCES

    city = SOURCES["geolite2-city"]
    version = DataVersion(
        "geolite2-city", "2026-06-17", licence=city.licence, attribution=city.attribution
    )
    result = unjudged()
    result = replace(result, data_versions=(*result.data_versions, version))
    doc = json.loads(render(result, "json"))
    assert city.attribution in doc["attributions"]
    assert any(v["licence"] == city.licence for v in doc["data_versions"])
    html = render(result, "html")
    footer = html[html.index("<footer>") :]
    assert city.attribution in footer
    assert city.attribution in render(result, "markdown")
