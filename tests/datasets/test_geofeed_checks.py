"""Geofeed rows are checked as ISO 3166 before they may decide a location (issue 10 item 4).

The differential tests run ``geofeed-tools`` (a dev dependency) on the same bytes and
compare its verdict for every line with ours. Where we knowingly differ, the difference
is asserted explicitly:

- a bad region is an error for geofeed-tools; we drop only the region and keep the line;
- a repeated prefix is fine for geofeed-tools; we keep the first entry (RFC 8805);
- ``UK`` is an unknown country for geofeed-tools; we read it as ``GB``;
- ``XK`` (Kosovo, user-assigned) is unknown to geofeed-tools; we accept it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from residency.datasets.importer import import_files
from residency.datasets.manifest import load_manifest
from residency.datasets.parsers.geofeed import GeofeedCheck, check_geofeed
from residency.model import Place
from tests.support import shared

MIN = b"81.2.1.0/24,ZZ,,Nowhere,\n81.2.2.0/24,US,DE-BE,Berlin,\n"


def places(data: bytes) -> dict[str, Place | None]:
    feed, _ = check_geofeed(data)
    return {r.network: r.place for r in feed.records}


def test_an_unknown_country_drops_the_line_and_a_foreign_region_only_the_region() -> None:
    feed, check = check_geofeed(MIN)
    assert {r.network: r.place for r in feed.records} == {
        "81.2.2.0/24": Place("US", None, "Berlin")
    }
    assert check.dropped == {1: "unknown country ZZ"}
    assert check.regions_dropped == {2: "DE-BE is not a region of US"}
    assert feed.notes[0] == (
        "1 line dropped (unknown country ZZ, line 1); "
        "1 region dropped (DE-BE is not a region of US, line 2)"
    )


@pytest.mark.parametrize("code", ["ZZ", "EU", "AP", "XA", "QM", "AA", "U1"])
def test_reserved_and_user_assigned_codes_never_decide_a_location(code: str) -> None:
    data = f"81.2.1.0/24,{code},,,\n81.2.9.0/24,RU,,,\n".encode()
    assert places(data) == {"81.2.9.0/24": Place("RU")}


def test_kosovo_xk_is_accepted_and_uk_is_read_as_gb() -> None:
    feed, _ = check_geofeed(b"81.2.1.0/24,XK,,Pristina,\n81.2.2.0/24,UK,GB-LND,London,\n")
    assert {r.network: r.place for r in feed.records} == {
        "81.2.1.0/24": Place("XK", None, "Pristina"),
        "81.2.2.0/24": Place("GB", "GB-LND", "London"),
    }
    assert "1 line gives country UK, read as GB" in feed.notes


def test_host_bits_set_drop_the_line_instead_of_widening_it() -> None:
    feed, check = check_geofeed(b"24.144.64.1/22,US,US-NY,New York,\n81.2.9.0/24,RU,,,\n")
    assert [r.network for r in feed.records] == ["81.2.9.0/24"]
    assert check.dropped == {1: "host bits set in 24.144.64.1/22"}


def test_region_or_city_without_a_country_drops_the_line() -> None:
    feed, check = check_geofeed(b"81.2.1.0/24,,US-NY,,\n81.2.2.0/24,,,,\n")
    # an empty row is RFC 8805's "do not geolocate": kept, without a place
    assert {r.network: r.place for r in feed.records} == {"81.2.2.0/24": None}
    assert check.dropped == {1: "region or city without a country"}


def test_a_last_line_cut_short_is_dropped() -> None:
    feed, check = check_geofeed(b"81.2.1.0/24,RU,RU-MOW,Moscow,\n81.2.3.0/2")
    assert [r.network for r in feed.records] == ["81.2.1.0/24"]
    assert check.dropped == {2: "cut short at the end of the file (truncated?)"}
    # a complete last line without the newline is fine
    whole, check = check_geofeed(b"81.2.1.0/24,RU,RU-MOW,Moscow,\n81.2.3.0/24,RU,,,")
    assert len(whole.records) == 2 and not check.dropped


def test_json_entries_are_checked_the_same_way() -> None:
    doc = {
        "subnets": [
            {"ip_prefix": "81.2.1.0/24", "alpha2code": "EU", "region": "", "city": ""},
            {"ip_prefix": "81.2.2.0/24", "alpha2code": "SG", "region": "SG-SIN", "city": "SG"},
        ]
    }
    feed, check = check_geofeed(json.dumps(doc).encode())
    assert set(check.dropped) == {1} and set(check.regions_dropped) == {2}
    assert {r.network: r.place for r in feed.records} == {"81.2.2.0/24": Place("SG", None, "SG")}
    assert feed.notes[0].startswith("1 entry dropped (unknown country EU, entry 1); 1 region")


def test_import_names_the_file_in_its_note_and_keeps_it_in_the_manifest(tmp_path: Path) -> None:
    path = tmp_path / "min.csv"
    path.write_bytes(MIN)
    report = import_files([path], directory=tmp_path / "data")
    assert report.ok
    expected = (
        "min.csv: 1 line dropped (unknown country ZZ, line 1); "
        "1 region dropped (DE-BE is not a region of US, line 2)"
    )
    assert report.outcomes[0].notes == (expected,)
    entry = load_manifest(tmp_path / "data").entries["geofeed-min"]
    assert entry.notes == (expected,) and entry.records == 1


# ------------------------------------------------------------------ differential


def verdicts_of_geofeed_tools(data: bytes) -> tuple[set[int], set[int]]:
    """(lines with a line error, lines whose only errors are about the region)."""
    from geofeed_tools.validate import validate_bytes

    report = validate_bytes(data, "feed.csv", check_sort=False)
    region_codes = {"invalid-region", "region-country-mismatch"}
    by_line: dict[int, set[str]] = {}
    for issue in report.issues:
        if issue.severity == "error" and issue.line is not None:
            by_line.setdefault(issue.line, set()).add(issue.code)
    line_errors = {n for n, codes in by_line.items() if codes - region_codes}
    region_only = {n for n, codes in by_line.items() if codes <= region_codes}
    return line_errors, region_only


def assert_agrees(data: bytes, check: GeofeedCheck) -> None:
    theirs_dropped, theirs_region = verdicts_of_geofeed_tools(data)
    lines = data.decode("utf-8").splitlines()

    def country(n: int) -> str:
        return next(csv.reader([lines[n - 1]]))[1].strip().upper()

    # documented difference: UK (read as GB) and XK (Kosovo) are accepted by us
    ours_extra = {n for n in theirs_dropped if country(n) in ("UK", "XK")}
    assert set(check.dropped) == theirs_dropped - ours_extra
    assert set(check.regions_dropped) == theirs_region


def csv_of_json(doc: dict[str, list[dict[str, str]]]) -> bytes:
    """The JSON entries as RFC 8805 CSV lines, entry N on line N."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for e in doc["subnets"]:
        writer.writerow(
            e.get(k, "") for k in ("ip_prefix", "alpha2code", "region", "city", "postal_code")
        )
    return out.getvalue().encode()


@pytest.mark.parametrize(
    ("parts", "expect_region_drops"),
    [
        (("aws-geofeed", "aws-geo-ip-feed_2025-09-18.csv"), {"IN-TG", "PH-U"}),
        (("digitalocean", "digitalocean-geofeed-google_2025-07-22.csv"), set()),
        (("linode", "linode-geofeed_2025-07-24.csv"), {"SG-SIN"}),
    ],
)
def test_real_feeds_agree_with_geofeed_tools(
    parts: tuple[str, str], expect_region_drops: set[str]
) -> None:
    pytest.importorskip("geofeed_tools")
    data = shared("feeds", *parts).read_bytes()
    feed, check = check_geofeed(data)
    assert_agrees(data, check)
    seen = {reason.split(" ")[0] for reason in check.regions_dropped.values()}
    assert seen == expect_region_drops
    if expect_region_drops:
        assert any("region" in n and "dropped" in n for n in feed.notes)


def test_real_vultr_json_agrees_with_geofeed_tools_on_its_csv_form() -> None:
    pytest.importorskip("geofeed_tools")
    data = shared("feeds", "vultr", "vultr-geofeed-constant-json_2024-04-18.json").read_bytes()
    _, check = check_geofeed(data)
    assert_agrees(csv_of_json(json.loads(data)), check)


def test_bad_variants_of_a_real_feed_agree_with_geofeed_tools() -> None:
    pytest.importorskip("geofeed_tools")
    real = shared("feeds", "linode", "linode-geofeed_2025-07-24.csv").read_bytes()
    rows = [ln for ln in real.decode().splitlines() if ln and not ln.startswith("#")][:200]
    bad = [
        "81.2.1.0/24,ZZ,,Nowhere,",
        "81.2.2.0/24,US,DE-BE,Berlin,",
        "81.2.3.0/24,EU,,,",
        "24.144.64.1/22,US,US-NY,New York,",
        "81.2.4.0/24,,US-NY,,",
        "not-a-prefix,US,,,",
        "81.2.5.0/24,us,us-ny,New York,",
        "81.2.6.0/24,XK,,Pristina,",
        "81.2.7.0/24,UK,,,",
        "81.2.8.0/33,US,,,",
    ]
    mixed: list[str] = []
    for i, row in enumerate(rows):
        mixed.append(row)
        if i % 20 == 0 and bad:
            mixed.append(bad.pop(0))
    data = ("\n".join(mixed + bad) + "\n").encode()
    feed, check = check_geofeed(data)
    assert_agrees(data, check)
    assert len(check.dropped) >= 6
    assert not any(r.place and r.place.country in ("ZZ", "EU") for r in feed.records)
