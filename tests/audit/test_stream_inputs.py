"""``--format jsonl`` audits exactly what the batch path audits: every input option.

The stream once read only the positional targets and silently dropped ``--har``,
``--zone``, ``--pcap``, ``--rdap`` and ``--db``; each case compares it with the batch run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from residency.cli import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENDPOINTS = FIXTURES / "endpoints"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny dataset made only from tests/fixtures (one GeoIP file, one ASN table)."""
    from residency.datasets.importer import import_files
    from residency.locate.locator import Locator
    from tests.locate.fixtures import write_maxmind_layout

    tmp = tmp_path_factory.mktemp("stream-data")
    directory = tmp / "datasets"
    geoip = write_maxmind_layout(tmp / "GeoLite2-Country-test.mmdb")
    for name, files in (
        ("dbip-country", [geoip]),
        ("ipdb-asn", [FIXTURES / "locate" / "asn-ipv4.csv"]),
    ):
        assert import_files(files, as_dataset=name, directory=directory).ok
    Locator.load(directory)
    return directory


def run(dataset: Path, *args: str) -> tuple[int, list[dict[str, object]], str]:
    """The audit as jsonl: exit code, every line parsed, stderr."""
    result = CliRunner().invoke(
        cli, ["audit", "--data-dir", str(dataset), "--no-resolve", "--format", "jsonl", *args]
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


def batch_hosts(dataset: Path, *args: str) -> set[str]:
    result = CliRunner().invoke(
        cli, ["audit", "--data-dir", str(dataset), "--no-resolve", "--json", *args]
    )
    assert result.exit_code in (0, 2), result.output
    return {str(e["host"]) for e in json.loads(result.stdout)["endpoints"]}


@pytest.mark.parametrize(
    ("option", "path", "extra"),
    [
        ("--har", ENDPOINTS / "firefox.har", ()),
        ("--zone", ENDPOINTS / "db.shop.example", ("--zone-origin", "shop.example")),
        ("--pcap", ENDPOINTS / "loopback.pcap", ()),
    ],
)
def test_jsonl_reads_input_files_like_the_batch(
    dataset: Path, option: str, path: Path, extra: tuple[str, ...]
) -> None:
    expected = batch_hosts(dataset, option, str(path), *extra)
    assert expected  # the fixture has endpoints, so an empty stream would be a loss
    code, lines, stderr = run(dataset, option, str(path), *extra)
    *endpoints, summary = lines
    assert code in (0, 2), stderr
    assert {str(e["host"]) for e in endpoints} == expected
    assert summary["summary"]["endpoints"] == len(expected)  # type: ignore[index]


def test_jsonl_merges_a_file_host_with_the_same_positional_target(dataset: Path) -> None:
    expected = batch_hosts(dataset, "--har", str(ENDPOINTS / "firefox.har"))
    host = sorted(expected)[0]
    code, lines, _ = run(dataset, "--har", str(ENDPOINTS / "firefox.har"), host)
    assert code in (0, 2)
    hosts = [str(e["host"]) for e in lines[:-1]]
    assert sorted(hosts) == sorted(expected)  # audited once, not twice


def test_jsonl_records_the_stream_with_db(dataset: Path, tmp_path: Path) -> None:
    from residency.store import open_store

    db = tmp_path / "history.sqlite3"
    code, lines, stderr = run(dataset, "--db", str(db), "192.0.2.1", "198.51.100.7")
    assert code == 0, stderr
    summary = lines[-1]
    (run_id,) = summary["runs"]  # type: ignore[misc]
    store = open_store(str(db))
    try:
        with store.backend.transaction(write=False) as tx:
            rows = tx.execute("SELECT id, endpoint_count FROM run").rows
    finally:
        store.close()
    assert [tuple(r) for r in rows] == [(run_id, 2)]


def test_jsonl_looks_up_registrations_with_rdap(dataset: Path) -> None:
    from tests.integration.rdapserver import RdapServer
    from tests.integration.test_rdap_policy import network

    rdap = RdapServer([network("13.228.0.0", "13.229.255.255", "AMAZON-SIN", "Amazon", "US")])
    try:
        code, lines, stderr = run(dataset, "--rdap", "--rdap-url", rdap.base_url, "13.228.0.1")
    finally:
        rdap.stop()
    assert code == 0, stderr
    (address,) = lines[0]["addresses"]  # type: ignore[misc]
    assert address["registration"]["org"] == "Amazon"  # only RDAP knows the registrant


def test_format_choices_come_from_the_output_format_enum() -> None:
    from residency.report import OutputFormat

    result = CliRunner().invoke(cli, ["audit", "--help"])
    assert "jsonl" in {f.value for f in OutputFormat}
    for fmt in OutputFormat:
        assert fmt.value in result.output


def test_a_finished_audit_renders_as_the_same_jsonl(dataset: Path) -> None:
    """The formatter writes the lines the stream writes (same summary builder)."""
    from residency.report import render

    code, lines, _ = run(dataset, "192.0.2.1")
    batch = CliRunner().invoke(
        cli, ["audit", "--data-dir", str(dataset), "--no-resolve", "--json", "192.0.2.1"]
    )
    assert code == 0 and batch.exit_code == 0
    from residency.audit.run import AuditRequest, run_audit

    outcome = run_audit(AuditRequest(targets=("192.0.2.1",), resolve=False, data_dir=dataset))
    rendered = [json.loads(x) for x in render(outcome.result, "jsonl").splitlines()]
    assert [r["host"] for r in rendered[:-1]] == [r["host"] for r in lines[:-1]]
    assert rendered[-1]["summary"] == lines[-1]["summary"]
    assert rendered[-1]["schema"] == lines[-1]["schema"]


def test_jsonl_with_db_stores_the_input_problems_like_the_batch(
    dataset: Path, tmp_path: Path
) -> None:
    from residency.store import open_store

    db = tmp_path / "history.sqlite3"
    code, lines, _ = run(dataset, "--db", str(db), "192.0.2.1", "bad_name!")
    assert code == 2  # one bad entry; the good one is still audited
    assert [e["host"] for e in lines[:-1]] == ["192.0.2.1"]
    store = open_store(str(db))
    try:
        with store.backend.transaction(write=False) as tx:
            (problems,) = tx.execute("SELECT problems FROM run").rows[0]
    finally:
        store.close()
    assert "bad_name!" in problems
