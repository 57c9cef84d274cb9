"""``residency data status`` and ``residency data update`` at the command line (no network)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from residency.cli import cli
from residency.datasets.importer import import_files
from residency.datasets.manifest import load_manifest, save_manifest
from residency.datasets.status import data_status
from tests.datasets.mmdb_build import write_mmdb
from tests.datasets.update_helpers import cloudip_bytes


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "datasets"
    monkeypatch.setenv("RESIDENCY_DATA_DIR", str(directory))
    monkeypatch.setenv("RESIDENCY_CONFIG", str(tmp_path / "no-config.toml"))
    return directory


def complete_dataset(directory: Path, tmp_path: Path) -> None:
    db = write_mmdb(tmp_path / "dbip-country.mmdb", {"country_code": "US"}, {"country_code": "SG"})
    asn = tmp_path / "asn-ipv4.csv"
    asn.write_bytes(b"1.0.0.0,1.0.0.255,13335,Cloudflare\n")
    cloud = tmp_path / "cloudip.msgpack.gz"
    cloud.write_bytes(cloudip_bytes())
    assert import_files([db, asn, cloud], directory=directory).ok


def test_status_lists_versions_ages_and_warns_when_stale(data_dir: Path, tmp_path: Path) -> None:
    complete_dataset(data_dir, tmp_path)
    manifest = load_manifest(data_dir)
    old = manifest.entries["cloudip"]
    stale_time = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = manifest.with_entry(replace(old, published=None, fetched=stale_time))
    save_manifest(manifest, data_dir)
    result = CliRunner().invoke(cli, ["data", "status"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "2026-06-01" in lines["dbip-country"]
    assert "STALE" in lines["cloudip"] and "STALE" not in lines["ipdb-asn"]
    assert lines["aws-ip-ranges"].split()[1] == "missing"
    assert "warning: cloudip is 30 days old (stale after 14)" in result.stderr


def test_status_model_reports_missing_parts(data_dir: Path) -> None:
    status = data_status(data_dir)
    assert len(status.missing) == 3
    assert all(not d.present for d in status.datasets)


def test_status_flags_files_deleted_behind_the_manifest(data_dir: Path, tmp_path: Path) -> None:
    complete_dataset(data_dir, tmp_path)
    (data_dir / "raw/cloudip/cloudip.msgpack.gz").unlink()
    status = data_status(data_dir)
    row = next(d for d in status.datasets if d.dataset == "cloudip")
    assert not row.present and "missing" in row.problem
    assert status.missing and "cloud provider ranges" in status.missing[0]


def test_update_unknown_source_is_one_line_exit_2(data_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["data", "update", "--source", "bogus"])
    assert result.exit_code == 2
    assert result.stderr.startswith("residency: unknown data source 'bogus'; known: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_update_if_missing_is_a_no_op_with_a_complete_dataset(
    data_dir: Path, tmp_path: Path
) -> None:
    complete_dataset(data_dir, tmp_path)
    before = (data_dir / "manifest.json").read_bytes()
    result = CliRunner().invoke(cli, ["data", "update", "--if-missing"])
    assert result.exit_code == 0, result.output
    assert "nothing to do: a complete dataset is already present" in result.stdout
    assert (data_dir / "manifest.json").read_bytes() == before


def test_every_data_command_has_help() -> None:
    for command in ("update", "status", "import"):
        result = CliRunner().invoke(cli, ["data", command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
