"""What 'data status' and 'data update' print, from their report objects."""

from __future__ import annotations

from residency.datasets.status import DatasetStatus, DataStatus
from residency.datasets.update import SourceOutcome, Status, UpdateReport


def _status(*rows: DatasetStatus, missing: tuple[str, ...] = ()) -> DataStatus:
    return DataStatus(directory="/data", datasets=rows, missing=missing)


def test_status_lines_list_each_dataset_then_licences() -> None:
    fresh = DatasetStatus(
        "dbip-country",
        "mmdb",
        present=True,
        version="2026-11",
        age_days=3.0,
        origin="official",
        licence="CC BY 4.0",
        attribution="IP Geolocation by DB-IP",
        notices=("mirror lags a month",),
    )
    bare = DatasetStatus("cloudip", "json", present=True, version="1", age_days=1.0, licence="MIT")
    absent = DatasetStatus("aws-geofeed", "geofeed", present=False, attribution="AWS")
    assert _status(fresh, bare, absent).lines() == [
        "datasets in /data",
        fresh.line(),
        "  notice: mirror lags a month",
        bare.line(),
        absent.line(),
        "licences and attribution:",
        "  dbip-country: CC BY 4.0; IP Geolocation by DB-IP",
        "  cloudip: MIT",
    ]
    assert _status(fresh).warnings() == []


def test_status_warnings_stale_missing_damaged() -> None:
    stale = DatasetStatus(
        "ipdb-asn", "csv", present=True, age_days=168.4, stale=True, stale_after_days=45
    )
    damaged = DatasetStatus(
        "cloudip", "json", present=True, damaged=True, problem="cloudip: file changed on disk"
    )
    status = _status(stale, damaged, missing=("ASN data", "a country database (mmdb)"))
    assert status.warnings() == [
        "warning: ipdb-asn is 168 days old (stale after 45); run 'residency data update' "
        "where its official source is reachable",
        "warning: dataset incomplete, missing ASN data; a country database (mmdb)",
        "error: cloudip: file changed on disk",
    ]
    assert "licences and attribution:" not in status.lines()


def _report(*statuses: Status, missing: tuple[str, ...] = ()) -> UpdateReport:
    outcomes = tuple(SourceOutcome(f"s{i}", s) for i, s in enumerate(statuses))
    return UpdateReport(outcomes, "t0", "t1", missing=missing)


def test_update_problem_and_summary() -> None:
    mixed = _report(Status.UPDATED, Status.NOT_MODIFIED, Status.KEPT_PREVIOUS)
    assert [o.dataset for o in mixed.failed] == ["s2"]
    assert mixed.problem(requested=False) is None
    assert mixed.problem(requested=True) == "1 of 3 requested sources not updated"
    assert mixed.summary() == (
        "dataset complete: 2 of 3 sources current; 1 kept previous data or failed (see above)"
    )
    incomplete = _report(Status.FAILED, missing=("ASN data",))
    assert incomplete.problem(requested=True) == "dataset incomplete, missing ASN data"
    assert _report(Status.FROM_MIRROR).problem(requested=True) is None
