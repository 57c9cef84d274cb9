"""The sources table (data/sources.toml) and user-added geofeeds from the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.datasets.parsers import PARSERS
from residency.datasets.sources import (
    SOURCES,
    SourcesError,
    all_sources,
    load_sources,
    user_geofeeds,
)


def test_every_source_has_licence_attribution_and_a_known_parser() -> None:
    assert len(SOURCES) >= 16
    for source in SOURCES.values():
        assert source.licence and source.attribution, source.id
        assert source.urls or source.discover or source.import_only, source.id
        if source.kind in ("feed", "geofeed", "cloudip", "asn-csv"):
            assert source.parser in PARSERS, f"{source.id}: parser {source.parser!r}"
    dbip = SOURCES["dbip-country"]
    assert "IP Geolocation by DB-IP" in dbip.attribution and "https://db-ip.com" in dbip.attribution
    assert "CC BY 4.0" in dbip.licence
    assert dbip.url_template and "{month}" in dbip.url_template


def test_feeds_are_stale_after_14_days_and_databases_after_45() -> None:
    assert SOURCES["aws-ip-ranges"].stale_days == 14
    assert SOURCES["dbip-country"].stale_days == 45
    assert SOURCES["ipdb-asn"].stale_days == 45


def test_user_geofeeds_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[geofeeds]\nurls = ["https://geo.example.net/feed.csv"]\n')
    found = user_geofeeds(config)
    (source,) = found.values()
    assert source.id.startswith("geofeed-geo-example-net-")
    assert source.kind == "geofeed" and source.parser == "geofeed" and source.user_added
    assert source.urls == ("https://geo.example.net/feed.csv",)
    assert source.id in all_sources(config=config)
    assert user_geofeeds(tmp_path / "absent.toml") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[geofeeds\n", "not valid TOML"),
        ('[geofeeds]\nurls = "https://x"\n', "must be a list of strings"),
        ('[geofeeds]\nurls = ["ftp://x/feed.csv"]\n', "is not an http"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(SourcesError, match=message) as caught:
        user_geofeeds(config)
    assert str(config) in str(caught.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('kind = "nope"\nfiles = ["a"]\nurls = ["http://x"]', "unknown kind 'nope'"),
        ('kind = "feed"\nfiles = ["a", "b"]\nurls = ["http://x"]', "same length"),
        ('kind = "feed"\nfiles = ["a"]', "needs 'urls' or a 'discover'"),
    ],
)
def test_bad_sources_table_names_the_source(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(f'[sources.x]\nlicence = "l"\nattribution = "a"\n{table}\n')
    with pytest.raises(SourcesError, match=message) as caught:
        load_sources(path)
    assert "[sources.x]" in str(caught.value)
