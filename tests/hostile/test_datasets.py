"""Hostile dataset input through the real CLI: invalid geofeed rows, HTML and truncated
feeds, oversized files, and damaged datasets that ``data status`` must name.

Each test builds a small dataset of its own (two tiny GeoIP mmdbs that say RU for
81.2.0.0/16, an ASN CSV, a cloudip file) and points RESIDENCY_DATA_DIR at it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from residency.datasets.importer import import_files
from residency.datasets.manifest import load_manifest
from tests.datasets.update_helpers import cloudip_bytes
from tests.hostile.runner import assert_clean_failure, run_cli
from tests.support import FIXTURES

MIN = b"81.2.1.0/24,ZZ,,Nowhere,\n81.2.2.0/24,US,DE-BE,Berlin,\n"


def _mmdb(path: Path, flat: bool) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="test-country")
    for net in ("81.2.0.0/16", "1.1.1.0/24", "8.8.8.0/24"):
        record = {"country_code": "RU"} if flat else {"country": {"iso_code": "RU"}}
        writer.insert_network(IPSet([net]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    cloudip = tmp_path / "cloudip.msgpack.gz"
    cloudip.write_bytes(cloudip_bytes())
    plan = [
        ("dbip-country", _mmdb(tmp_path / "a.mmdb", flat=False)),
        ("geo-whois-asn-country", _mmdb(tmp_path / "b.mmdb", flat=True)),
        ("ipdb-asn", FIXTURES / "locate" / "asn-ipv4.csv"),
        ("cloudip", cloudip),
    ]
    for dataset_id, path in plan:
        report = import_files([path], as_dataset=dataset_id, directory=directory)
        assert report.ok, report.outcomes
    return directory


def _place(run_stdout: str) -> dict[str, object]:
    place = json.loads(run_stdout)["addresses"][0]["location"]["place"]
    assert isinstance(place, dict), place
    return place


def test_invalid_geofeed_lines_are_dropped_with_a_note_and_never_decide(
    dataset: Path, tmp_path: Path
) -> None:
    feed = tmp_path / "min.csv"
    feed.write_bytes(MIN)
    run = run_cli("data", "import", str(feed), data_dir=dataset)
    assert run.code == 0 and not run.traceback, run.stderr
    assert (
        "min.csv: 1 line dropped (unknown country ZZ, line 1); "
        "1 region dropped (DE-BE is not a region of US, line 2)"
    ) in run.stdout
    entry = load_manifest(dataset).entries["geofeed-min"]
    assert entry.records == 1 and any("unknown country ZZ" in n for n in entry.notes)
    located = run_cli("ip", "81.2.1.50", "--json", data_dir=dataset)
    assert located.code == 0, located.stderr
    assert "ZZ" not in located.stdout
    assert _place(located.stdout)["country"] == "RU"
    berlin = run_cli("ip", "81.2.2.50", "--json", data_dir=dataset)
    assert _place(berlin.stdout)["subdivision"] is None


def test_an_html_page_as_a_geofeed_is_refused_and_the_previous_data_stays(
    dataset: Path, tmp_path: Path
) -> None:
    good = tmp_path / "geo-ip-feed.csv"
    good.write_bytes(b"81.2.1.0/24,RU,RU-MOW,Moscow,\n")
    assert run_cli("data", "import", str(good), data_dir=dataset).code == 0
    before = (dataset / "raw" / "aws-geofeed" / "geo-ip-feed.csv").read_bytes()
    page = tmp_path / "page" / "geo-ip-feed.csv"
    page.parent.mkdir()
    page.write_bytes(b"<!DOCTYPE html><html><body>Sign in</body></html>\n")
    run = run_cli("data", "import", str(page), data_dir=dataset)
    assert_clean_failure(run, code=2, mentions="aws-geofeed: got HTML/XML, not a geofeed CSV")
    assert "the previous data stays in place" in run.stderr
    assert len(run.error_lines()) == 1, run.stderr
    assert (dataset / "raw" / "aws-geofeed" / "geo-ip-feed.csv").read_bytes() == before


def test_a_truncated_geofeed_loses_only_its_cut_line(dataset: Path, tmp_path: Path) -> None:
    feed = tmp_path / "geo-ip-feed.csv"
    feed.write_bytes(b"81.2.1.0/24,RU,RU-MOW,Moscow,\n81.2.2.0/24,RU,RU-MOW,Moscow,\n81.0.0.0/1")
    run = run_cli("data", "import", str(feed), data_dir=dataset)
    assert run.code == 0, run.stderr
    assert "cut short at the end of the file (truncated?), line 3" in run.stdout
    assert load_manifest(dataset).entries["aws-geofeed"].records == 2


def test_an_oversized_feed_is_refused_before_it_is_read(dataset: Path, tmp_path: Path) -> None:
    good = tmp_path / "geo-ip-feed.csv"
    good.write_bytes(b"81.2.1.0/24,RU,RU-MOW,Moscow,\n")
    assert run_cli("data", "import", str(good), data_dir=dataset).code == 0
    big = tmp_path / "big" / "geo-ip-feed.csv"
    big.parent.mkdir()
    with big.open("wb") as handle:  # sparse: 40 MB on the name, nothing on the disk
        handle.truncate(40 * 1024 * 1024)
    run = run_cli("data", "import", str(big), data_dir=dataset)
    assert_clean_failure(run, code=2, mentions="aws-geofeed: geo-ip-feed.csv is 41943040 bytes")
    assert "previous data stays in place" in run.stderr
    assert load_manifest(dataset).entries["aws-geofeed"].records == 1


def test_status_names_a_corrupt_mmdb_and_how_to_repair_it(dataset: Path) -> None:
    assert run_cli("data", "status", data_dir=dataset).code == 0
    mmdb = dataset / "raw" / "dbip-country" / "dbip-country.mmdb"
    data = bytearray(mmdb.read_bytes())
    data[: len(data) // 2] = b"\0" * (len(data) // 2)
    mmdb.write_bytes(bytes(data))
    run = run_cli("data", "status", data_dir=dataset)
    assert_clean_failure(run, code=2, mentions="dbip-country: dbip-country.mmdb")
    assert "repair with 'residency data update --source dbip-country'" in run.stderr
    assert "DAMAGED" in run.stdout
    as_json = run_cli("data", "status", "--json", data_dir=dataset)
    assert as_json.code == 2 and not as_json.traceback


def test_status_names_a_damaged_imported_geofeed_and_the_import_that_repairs_it(
    dataset: Path, tmp_path: Path
) -> None:
    feed = tmp_path / "min.csv"
    feed.write_bytes(MIN)
    assert run_cli("data", "import", str(feed), data_dir=dataset).code == 0
    stored = dataset / "raw" / "geofeed-min" / "geofeed.csv"
    stored.write_bytes(b"garbage")
    run = run_cli("data", "status", data_dir=dataset)
    assert_clean_failure(run, code=2, mentions="geofeed-min: geofeed.csv changed on disk")
    assert f"repair with 'residency data import {feed.resolve()}'" in run.stderr
