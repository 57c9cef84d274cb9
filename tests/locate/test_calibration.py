"""Calibration tables: reading and writing them, levels from measured shares, and measuring
them from ground-truth layers (the small real-data dataset)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from residency.locate.locator import Locator
from residency.locate.trust.calibrate import (
    build_calibration,
    country_of,
    holdout_for,
    measure,
    rebuild_calibration,
    truth_sets,
)
from residency.locate.trust.calibration import (
    CALIBRATION_FILE,
    Calibration,
    CalibrationError,
    Measured,
    calibration_for,
    load_calibration,
    shipped_calibration,
)
from residency.model import Confidence, Place
from tests.locate.fixtures import small_dataset
from tests.support import SHARED_DATA


def test_levels_follow_the_thresholds_on_the_lower_bound() -> None:
    cal = Calibration(
        answers={
            "a": {"all": Measured(9999, 10000)},
            "b": {"all": Measured(200, 200)},  # 100%, but 200 samples prove only ~98%
            "c": {"all": Measured(9700, 10000)},
            "d": {"all": Measured(50, 50)},  # too few: not measured
        }
    )
    assert Measured(200, 200).lower_bound < 0.99
    assert cal.level("a", "x")[0] is Confidence.MEDIUM  # pooled only: capped
    own = Calibration(answers={"a": {"x": Measured(9999, 10000)}})
    assert own.level("a", "x")[0] is Confidence.HIGH
    assert cal.level("b", "x")[0] is Confidence.MEDIUM
    assert cal.level("c", "x")[0] is Confidence.MEDIUM
    assert cal.level("d", "x") == (Confidence.LOW, "d answers not measured")


def test_round_trip_and_digest() -> None:
    cal = Calibration(
        sources={"geoip:x": {"all": Measured(9, 10)}},
        answers={"geoip:single": {"hosting": Measured(300, 310)}},
        patterns={"geoip:single v6: geoip:x": {"hosting": Measured(30, 31)}},
        default_weight={"geoip": 0.6},
        hyperscalers=frozenset({"aws"}),
        tie_breakers=frozenset({"geoip:geo-whois-asn-country"}),
        geoip_split=0.1,
        provenance={"measured": "2026-12-01"},
    )
    again = Calibration.from_json(cal.to_json())
    assert again.tie_breakers == cal.tie_breakers and again.geoip_split == 0.1
    assert again.sources == cal.sources and again.answers == cal.answers
    assert again.patterns == cal.patterns
    assert again.hyperscalers == cal.hyperscalers and again.provenance == cal.provenance
    assert again.digest and again.digest == Calibration.from_json(again.to_json()).digest


#: a table whose one row has ``right`` of 3 given
_COUNTS = (
    '{{"format": 1, "default_weight": {{}}, '
    '"{table}": {{"{key}": {{"all": {{"right": {right}, "given": 3}}}}}}}}'
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not a calibration table"),
        ('{"format": 2}', "not a format 1 calibration table"),
        ('{"format": 1, "default_weight": {}, "sources": {"a": {"all": {}}}}', "sources.a.all"),
        # a share over 1, a negative count or a float would read as a measured figure
        (
            _COUNTS.format(table="patterns", key="p", right="9"),
            r"patterns.p.all needs .*0 <= right <= given \(got right=9, given=3\)",
        ),
        (
            _COUNTS.format(table="answers", key="a", right="-1"),
            "answers.a.all",
        ),
        (
            _COUNTS.format(table="sources", key="a", right="2.5"),
            "sources.a.all",
        ),
    ],
)
def test_bad_table_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / CALIBRATION_FILE
    path.write_text(text)
    with pytest.raises(CalibrationError, match=message) as err:
        load_calibration(path)
    assert str(path) in str(err.value) or "calibration" in str(err.value)


def test_shipped_default_is_measured_with_provenance() -> None:
    cal = shipped_calibration()
    truths = cal.provenance["ground_truth"]
    assert {"aws-geofeed", "linode-geofeed", "vultr-geofeed"} <= {t["layer"] for t in truths}
    assert all(t["samples"] > 0 and t["version"] for t in truths)
    assert cal.provenance["holdout"] == "provider"
    for source in ("cloudip", "geoip:dbip-country", "geoip:geo-whois-asn-country"):
        assert cal.sources[source]["all"].given > 1000
    assert cal.level("feed:agreed", "hyperscaler")[0] is Confidence.HIGH
    # issue 21: the registry country breaks ties, GeoIP databases 10 points apart are split
    assert cal.tie_breakers == {"geoip:geo-whois-asn-country"} and cal.geoip_split == 0.1


def test_hong_kong_written_as_a_chinese_subdivision_is_hong_kong() -> None:
    assert country_of(Place("CN", "CN-HK")) == "HK" == country_of(Place("HK"))
    assert country_of(Place("CN", "CN-BJ")) == "CN"


@pytest.fixture(scope="module")
def locator(tmp_path_factory: pytest.TempPathFactory) -> Locator:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data absent: no ground-truth feeds")
    tmp = tmp_path_factory.mktemp("dataset")
    return Locator.load(tmp, sources=small_dataset(tmp), compiled_dir=tmp / "compiled")


def test_truth_sets_and_holdouts(locator: Locator) -> None:
    sets = {t.layer_id: t for t in truth_sets(locator)}
    assert {"aws-geofeed", "aws-ip-ranges", "gcp-cloud", "azure-service-tags"} <= set(sets)
    assert sets["aws-geofeed"].provider == "aws"
    layer = {layer.layer_id: i for i, layer in enumerate(locator.index.layers)}
    by_provider = holdout_for(locator, list(sets.values()), "provider")
    assert by_provider("aws-geofeed") == {layer["aws-geofeed"], layer["aws-ip-ranges"]}
    by_feed = holdout_for(locator, list(sets.values()), "feed")
    assert by_feed("aws-geofeed") == {layer["aws-geofeed"]}


def test_measured_from_the_ground_truth_in_place(locator: Locator, tmp_path: Path) -> None:
    built = build_calibration(locator, max_prefixes=150)
    assert built is not None
    cal, measurement, samples = built
    assert samples and cal.provenance["holdout"] == "feed"
    # AWS's region-mapped ranges graded against AWS's own geofeed: nearly always right
    aws = cal.sources["aws-ip-ranges"]["hyperscaler"]
    assert aws.given > 100 and aws.precision > 0.97
    # the test GeoIP databases cover a handful of prefixes: feeds answer alone here
    assert cal.answers["feed:alone"]["all"].given > 50
    # the geofeed held out, AWS's ranges still answer; Google's, held out, leave nothing
    merged = measurement.tallies["merged"]["aws-geofeed"]
    assert merged.coverage > 0.5 and merged.precision > 0.95
    assert measurement.tallies["merged"]["gcp-cloud"].given == 0
    assert cal.patterns and all(" v4: " in p or " v6: " in p for p in cal.patterns)
    written = rebuild_calibration(locator, tmp_path)
    assert written is not None
    assert calibration_for(tmp_path).digest == written.digest
    doc = json.loads((tmp_path / CALIBRATION_FILE).read_text())
    assert doc["provenance"]["ground_truth"][0]["prefixes"] > 0


def test_dataset_without_ground_truth_keeps_the_shipped_default(tmp_path: Path) -> None:
    assert calibration_for(tmp_path) is shipped_calibration()


def test_a_withheld_answer_is_still_counted(locator: Locator) -> None:
    # every pattern measured weak: every answer is withheld, yet each is still counted
    # as the place it would have given, so the next rebuild measures the same table
    built = build_calibration(locator, max_prefixes=150)
    assert built is not None
    cal, before, samples = built
    weak = replace(cal, patterns={p: {"all": Measured(0, 100)} for p in cal.patterns})
    after = measure(locator, samples, weak, holdout_for(locator, truth_sets(locator), "feed"))
    assert sum(t.given for t in after.tallies["merged"].values()) == 0
    assert after.patterns == before.patterns and after.answers == before.answers
