"""Calibration tables: reading and writing them, levels from measured shares, and measuring
them from ground-truth layers (the small real-data dataset)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from residency import paths
from residency.digest import sha256
from residency.locate.index.summary import Summary
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
    calibration_status,
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
    # issue 21: the sources' rows count each operator at most 20 addresses (one operator
    # is one policy seen many times), so they hold hundreds of samples, not tens of thousands
    operators = cal.provenance["operator_study"]["operators"]
    for source in ("cloudip", "geoip:dbip-country", "geoip:geo-whois-asn-country"):
        assert 100 <= cal.sources[source]["all"].given <= 20 * operators
    assert cal.level("feed:agreed", "hyperscaler")[0] is Confidence.HIGH
    # issue 21: the registry country breaks ties, GeoIP databases 10 points apart are split
    assert cal.tie_breakers == {"geoip:geo-whois-asn-country"} and cal.geoip_split == 0.1
    # issue 21: measured on the operators' own geofeeds too, each capped in the vote
    study = cal.provenance["operator_study"]
    assert study["operators"] >= 40 and study["operator_cap"] == 20
    assert len(study["geofeed_snapshots"]) >= 30
    assert all(s["operator"] and s["commit"] and s["date"] for s in study["geofeed_snapshots"])


def test_verdicts_name_the_table_and_what_it_was_measured_on() -> None:
    cal = shipped_calibration()
    version = cal.data_version()
    text = (paths.project_data_dir() / CALIBRATION_FILE).read_bytes()
    assert version.dataset == "calibration" and version.sha256 == sha256(text).hexdigest()
    assert cal.digest in version.version and cal.provenance["measured"] in version.version
    assert version.origin is not None
    assert "operator geofeeds" in version.origin and "at most 20 addresses" in version.origin


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
    # issue 21: the rows the shipped table measured on the operators' geofeeds stay in
    # force (the model whose held-out figure is measured); the dataset adds its feeds' rows
    shipped = shipped_calibration()
    for name in shipped.provenance["operator_study"]["rows"]["sources"]:
        assert written.sources[name] == shipped.sources[name]
    assert "aws-ip-ranges" not in shipped.provenance["operator_study"]["rows"]["sources"]
    assert written.sources["aws-ip-ranges"]["hyperscaler"].given > 100  # measured here
    assert doc["provenance"]["operator_study"]["operator_cap"] == 20


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


def test_a_new_table_merges_the_summary_again_and_says_so(locator: Locator) -> None:
    said: list[str] = []
    other = replace(locator.calibration, digest="feedfeedfeedfeed")
    again = Locator(locator.index, (), locator._registry, other, notify=said.append)
    before = Summary.merged_with(locator.index.directory)
    again.merge_all()
    assert before is not None and before != other.digest
    assert len(said) == 1 and before in said[0] and "feedfeedfeedfeed" in said[0]
    assert "the index itself is kept" in said[0]
    assert Summary.merged_with(locator.index.directory) == "feedfeedfeedfeed"
    Locator(locator.index, (), locator._registry, other, notify=said.append).merge_all()
    assert len(said) == 1  # merged with this table already: nothing to say


def test_status_names_the_table_in_force_and_a_summary_to_merge(tmp_path: Path) -> None:
    shipped = shipped_calibration()
    (tmp_path / "compiled").mkdir()
    summary = tmp_path / "compiled" / "summary.json"
    summary.write_text(json.dumps({"calibration": "0123456789abcdef"}))
    first, second = calibration_status(tmp_path)
    assert first.startswith("calibration: the shipped default, ") and shipped.digest in first
    assert "operator geofeeds" in first
    assert "0123456789abcdef" in second and "merges it again" in second
    summary.write_text(json.dumps({"calibration": shipped.digest}))
    assert len(calibration_status(tmp_path)) == 1
