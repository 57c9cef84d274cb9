"""Hostile input for the new sources through the real CLI: Microsoft's geofeed as an HTML
page, without its header, or cut short; the rest of a batch still imports, the previous
data stays, and a provider geofeed placed in the dataset outranks the GeoIP databases."""

from __future__ import annotations

import json
from pathlib import Path

from residency.datasets.manifest import load_manifest
from tests.hostile.runner import assert_clean_failure, run_cli
from tests.hostile.test_datasets import dataset  # noqa: F401  (the shared fixture)

GOOD = b"IP Range,Country,Region,City,Postal Code\n81.2.1.0/24,DE,DE-HE,FRANKFURT AM MAIN,\n"


def test_microsoft_geofeed_outranks_geoip_through_the_cli(
    dataset: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    feed = tmp_path / "geoloc-Microsoft.csv"
    feed.write_bytes(GOOD)
    assert run_cli("data", "import", str(feed), data_dir=dataset).code == 0
    run = run_cli("ip", "81.2.1.9", "--json", data_dir=dataset)
    assert run.code == 0, run.stderr
    location = json.loads(run.stdout)["addresses"][0]["location"]
    assert location["basis"] == "geofeed"  # both GeoIP databases say RU
    assert location["place"]["country"] == "DE"
    assert location["place"]["city"] == "Frankfurt Am Main"


def test_bad_microsoft_files_fail_one_line_each_and_the_rest_imports(
    dataset: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    first = tmp_path / "geoloc-Microsoft.csv"
    first.write_bytes(GOOD)
    assert run_cli("data", "import", str(first), data_dir=dataset).code == 0
    before = (dataset / "raw" / "microsoft-geofeed" / "geoloc-Microsoft.csv").read_bytes()
    page = tmp_path / "page" / "geoloc-Microsoft.csv"
    page.parent.mkdir()
    page.write_bytes(b"<!DOCTYPE html><html><body>Microsoft Download Center</body></html>\n")
    gcp = tmp_path / "cloud_geofeed"
    gcp.write_bytes(b"81.2.3.0/24,BE,BE-WHT,St. Ghislain,\n")
    run = run_cli("data", "import", str(page), str(gcp), data_dir=dataset)
    assert_clean_failure(run, code=2, mentions="microsoft-geofeed: got HTML/XML")
    assert "the previous data stays in place" in run.stderr
    assert len(run.error_lines()) == 1, run.stderr
    assert (dataset / "raw" / "microsoft-geofeed" / "geoloc-Microsoft.csv").read_bytes() == before
    assert load_manifest(dataset).entries["gcp-geofeed"].records == 1  # the batch went on

    headless = tmp_path / "headless" / "geoloc-Microsoft.csv"
    headless.parent.mkdir()
    headless.write_bytes(b"81.2.1.0/24,DE,DE-HE,FRANKFURT,\n")
    run = run_cli("data", "import", str(headless), data_dir=dataset)
    assert_clean_failure(run, code=2, mentions="microsoft-geofeed: first row is not the")
    assert len(run.error_lines()) == 1, run.stderr


def test_a_cut_microsoft_feed_loses_only_its_last_line(
    dataset: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    feed = tmp_path / "geoloc-Microsoft.csv"
    feed.write_bytes(GOOD + b"81.2.2.0/24,DE,DE-HE,FRANKFURT AM MAIN,\n81.2.4.0/24,DE,DE-H")
    run = run_cli("data", "import", str(feed), data_dir=dataset)
    assert run.code == 0, run.stderr
    assert "cut short at the end of the file (truncated?), line 4" in run.stdout
    assert load_manifest(dataset).entries["microsoft-geofeed"].records == 2
