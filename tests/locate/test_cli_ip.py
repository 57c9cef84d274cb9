"""``residency ip`` from the command line: answers, JSON, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from residency.cli import cli
from tests.locate.fixtures import imported_dataset
from tests.support import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return imported_dataset(tmp_path_factory.mktemp("ip-cli"))


def run(dataset: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["ip", "--data-dir", str(dataset), *args], env={"RESIDENCY_GEOIP": ""}
    )
    return result.exit_code, result.stdout, result.stderr


def test_answers_with_evidence_and_attribution(dataset: Path) -> None:
    code, out, err = run(dataset, "13.228.0.1", "10.1.2.3")
    assert code == 0, err
    assert "SG" in out and "aws ap-southeast-1" in out
    assert "not publicly routable: private (RFC 1918)" in out
    assert "IP Geolocation by DB-IP" in out  # the attribution DB-IP requires


def test_json_has_evidence_and_versions(dataset: Path) -> None:
    code, out, _ = run(dataset, "--json", "52.66.1.1", "1.1.1.1")
    assert code == 0
    doc = json.loads(out)
    first, second = doc["addresses"]
    assert first["location"]["place"]["country"] == "IN"
    assert {e["source"] for e in first["evidence"]} >= {"aws-ip-ranges", "geoip:dbip-country"}
    assert second["anycast"] is True and second["location"]["place"] is None
    assert {v["dataset"] for v in doc["data_versions"]} >= {"aws-ip-ranges", "ipdb-asn"}
    assert all(v["sha256"] for v in doc["data_versions"])


def test_invalid_address_is_one_line_and_others_answered(dataset: Path) -> None:
    code, out, err = run(dataset, "13.228.0.1", "300.1.1.1", "not-an-ip")
    assert code == 2
    assert "13.228.0.1" in out
    assert err.count("\n") == 2 and "'300.1.1.1'" in err and "Traceback" not in err


def test_unknown_source(dataset: Path) -> None:
    code, _out, err = run(dataset, "--source", "nope", "13.228.0.1")
    assert code == 2 and "unknown --source nope" in err and err.count("\n") == 1


def test_source_subset(dataset: Path) -> None:
    code, out, _ = run(dataset, "--source", "dbip-country", "--json", "13.228.0.1")
    assert code == 0
    (facts,) = json.loads(out)["addresses"]
    assert {e["source"] for e in facts["evidence"]} == {"geoip:dbip-country"}
    assert facts["provider"] is None


def test_corrupt_mmdb_is_one_line_and_data_intact(dataset: Path, tmp_path: Path) -> None:
    bad = tmp_path / "GeoLite2-Country.mmdb"
    bad.write_bytes(b"\x00" * 4096)
    before = sorted(p.name for p in (dataset / "raw").iterdir())
    code, _, err = run(dataset, "--geoip", str(bad), "13.228.0.1")
    assert code == 2 and str(bad) in err and err.count("\n") == 1
    assert sorted(p.name for p in (dataset / "raw").iterdir()) == before
    assert run(dataset, "13.228.0.1")[0] == 0  # the dataset in place still answers


def test_user_geolite2_file_is_used(dataset: Path, tmp_path: Path) -> None:
    from tests.locate.fixtures import write_maxmind_layout

    mine = write_maxmind_layout(tmp_path / "GeoLite2-Country.mmdb")
    code, out, _ = run(dataset, "--geoip", str(mine), "--json", "5.5.5.5")
    assert code == 0
    sources = {e["source"] for e in json.loads(out)["addresses"][0]["evidence"]}
    assert "geoip:user:GeoLite2-Country" in sources


def test_bulk_tsv_from_a_file_and_stdin(dataset: Path, tmp_path: Path) -> None:
    listing = tmp_path / "ips.txt"
    listing.write_text("# addresses seen\n13.228.0.1\n1.1.1.1  # resolver\n\n10.0.0.1\nnope\n")
    result = CliRunner().invoke(
        cli,
        ["ip", "--data-dir", str(dataset), "--bulk", str(listing), "-"],
        input="52.66.1.1\n",
        env={"RESIDENCY_GEOIP": ""},
    )
    assert result.exit_code == 2  # one bad line
    assert f"{listing}:6: 'nope'" in result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0][:3] == ["ip", "routable", "country"]
    by_ip = {r[0]: r for r in rows[1:]}
    assert by_ip["13.228.0.1"][2:5] == ["SG", "aws", "ap-southeast-1"]
    assert by_ip["1.1.1.1"][3] == "cloudflare" and by_ip["1.1.1.1"][6] == "yes"
    assert by_ip["10.0.0.1"][1] == "no"
    assert by_ip["52.66.1.1"][2] == "IN"
