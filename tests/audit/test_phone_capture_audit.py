"""``residency audit --pcap ... --app ... --android-trackers ...`` end to end: only the
chosen app's endpoints are audited, each with its apps, and tracker owners are notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from residency.cli import cli
from tests.endpoints.test_pcapdroid import CSV, SHOP_LABEL, _trackers, write_pcapng
from tests.support import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.locate.fixtures import imported_dataset

    return imported_dataset(tmp_path_factory.mktemp("phone-data"))


def _audit(dataset: Path, *args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(
        cli, ["audit", "--no-resolve", "--data-dir", str(dataset), "--format", "json", *args]
    )
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_app_filter_and_tracker_evidence_through_the_audit(dataset: Path, tmp_path: Path) -> None:
    capture = write_pcapng(tmp_path / "phone.pcapng")
    code, report, stderr = _audit(
        dataset,
        "--pcap", str(capture),
        "--pcap", str(CSV),
        "--app", "com.example.shop",
        "--android-trackers", str(_trackers(tmp_path)),
    )  # fmt: skip
    assert code == 2, stderr  # the CSV's row with a broken UID is an input problem
    endpoints = report["endpoints"]
    assert isinstance(endpoints, list)
    hosts = {e["host"]: e for e in endpoints}
    assert {"tls.capture.test", "other.example", "graph.facebook.com"} <= set(hosts)
    assert "web.capture.test" not in hosts  # the other app's
    for endpoint in endpoints:
        for seen in endpoint["observed"]:
            assert seen["apps"] == [SHOP_LABEL]
    assert "graph.facebook.com: a tracker domain of Facebook" in stderr
    assert "app com.example.shop: owned by Example Shops Ltd" in stderr


def test_a_missing_tracker_file_is_one_problem_and_the_audit_runs(
    dataset: Path, tmp_path: Path
) -> None:
    code, report, stderr = _audit(
        dataset, "--pcap", str(CSV), "--android-trackers", str(tmp_path / "none.json")
    )
    assert code == 2
    assert "--android-trackers" in stderr and "cannot read" in stderr
    assert report["endpoints"]
