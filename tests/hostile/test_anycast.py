"""Hostile anycast lists through the real CLI: junk lines are dropped with one note and
the rest is used; a page that is not the list is refused and the previous list stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from residency.datasets.importer import import_files
from tests.datasets.update_helpers import cloudip_bytes
from tests.hostile.runner import assert_clean_failure, run_cli
from tests.support import FIXTURES

GOOD = b"".join(f"10.{i}.0.0/16\n".encode() for i in range(1, 40)) + b"1.1.1.0/24\n8.8.8.0/24\n"


def _mmdb(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="test-country")
    for net in ("1.1.1.0/24", "8.8.8.0/24", "81.2.0.0/16"):
        writer.insert_network(IPSet([net]), {"country": {"iso_code": "US"}})
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    cloudip = tmp_path / "cloudip.msgpack.gz"
    cloudip.write_bytes(cloudip_bytes())
    plan = [
        ("dbip-country", _mmdb(tmp_path / "a.mmdb")),
        ("ipdb-asn", FIXTURES / "locate" / "asn-ipv4.csv"),
        ("cloudip", cloudip),
    ]
    for dataset_id, path in plan:
        report = import_files([path], as_dataset=dataset_id, directory=directory)
        assert report.ok, report.outcomes
    return directory


def _addresses(stdout: str) -> dict[str, dict[str, object]]:
    return {a["ip"]: a for a in json.loads(stdout)["addresses"]}


def test_junk_lines_are_dropped_with_one_note_and_the_rest_used(
    dataset: Path, tmp_path: Path
) -> None:
    listing = tmp_path / "anycatch-v4-prefixes.txt"
    lines = GOOD.splitlines(keepends=True)
    listing.write_bytes(b"".join(lines[:10]) + b"<junk>\n" + b"".join(lines[10:]) + b"1.2.3\n")
    run = run_cli("data", "import", str(listing), "--as", "bgptools-anycast", data_dir=dataset)
    assert run.code == 0 and not run.traceback, run.stderr
    notes = [ln for ln in run.stdout.splitlines() if "dropped 2 lines" in ln]
    assert len(notes) == 1, run.stdout
    assert listing.name in notes[0]
    assert "line 11: '<junk>'" in notes[0] and "line 43: '1.2.3'" in notes[0]
    located = run_cli("ip", "--json", "1.1.1.1", "8.8.8.8", "81.2.1.1", data_dir=dataset)
    assert located.code == 0, located.stderr
    got = _addresses(located.stdout)
    assert got["1.1.1.1"]["anycast"] is True and got["8.8.8.8"]["anycast"] is True
    assert got["81.2.1.1"]["anycast"] is False  # the rest of the batch is still answered


def test_an_html_page_as_the_list_is_refused_and_the_previous_list_stays(
    dataset: Path, tmp_path: Path
) -> None:
    good = tmp_path / "anycatch-v4-prefixes.txt"
    good.write_bytes(GOOD)
    assert run_cli("data", "import", str(good), data_dir=dataset).code == 0
    stored = dataset / "raw" / "bgptools-anycast" / "anycatch-v4-prefixes.txt"
    before = stored.read_bytes()
    page = tmp_path / "page" / "anycatch-v4-prefixes.txt"
    page.parent.mkdir()
    page.write_bytes(b"<!DOCTYPE html>\n<html><body>\n<h1>429 Too Many Requests</h1>\n</body>\n")
    run = run_cli("data", "import", str(page), data_dir=dataset)
    assert_clean_failure(run, code=2, mentions="bgptools-anycast: ")
    assert "not an anycast prefix list" in run.stderr
    assert len(run.error_lines()) == 1, run.stderr
    assert stored.read_bytes() == before
    located = run_cli("ip", "--json", "1.1.1.1", data_dir=dataset)
    assert _addresses(located.stdout)["1.1.1.1"]["anycast"] is True
