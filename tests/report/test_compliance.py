"""The compliance report over a period as a document: built from a real (SQLite) store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from residency.cli import cli
from residency.model import Verdict
from residency.report.compliance import build, render
from residency.report.interface import ComplianceFormat
from residency.store import TargetSpec, open_store
from tests.report.test_html_browser import ARTIFACTS, chromium
from tests.store.builders import Addr, Host, audit_result
from tests.support import require_binary

T0 = 1_700_000_000.0


def history(path: Path) -> str:
    db = str(path / "h.sqlite3")
    store = open_store(db)
    ok = Host("api.example.com", (Addr("192.0.2.1"),), verdict=Verdict.PASS)
    moved = Host(
        "api.example.com",
        (Addr("192.0.2.9", country="US", region="us-east-1"),),
        verdict=Verdict.FAIL,
    )
    unjudged = Host("cdn.example.com", (Addr("198.51.100.4", country="IN"),))
    store.record(audit_result("run-aaa", T0, [ok, unjudged], policy=True, data_version="v1"))
    store.record(audit_result("run-bbb", T0 + 3600, [moved], policy=True, data_version="v2"))
    # cdn.example.com is watched without a policy: its report must say that is why.
    store.add_targets([TargetSpec("cdn.example.com")], now=T0)
    store.close()
    return db


def test_document_has_timeline_share_drift_and_why_not_judged(tmp_path: Path) -> None:
    db = history(tmp_path)
    with open_store(db) as store:
        doc = build(store, T0 - 60, T0 + 7200)
    assert doc.policies == ("eu-only 1",) or doc.policies[0].startswith("eu-only")
    api = next(s for s in doc.endpoints if s.host == "api.example.com")
    assert [st.verdict for st in api.stretches] == ["PASS", "FAIL"]
    assert api.stretches[0].addresses[0].country == "DE"
    assert api.stretches[1].addresses[0].ip == "192.0.2.9"
    assert api.stretches[1].data_versions == (("aws-ip-ranges", "v2"),)
    assert api.share_compliant is not None and 0.4 < api.share_compliant < 0.6
    assert api.drifts and all(d.run_id == "run-bbb" for d in api.drifts)
    assert all(d.data_versions == (("aws-ip-ranges", "v2"),) for d in api.drifts)
    cdn = next(s for s in doc.endpoints if s.host == "cdn.example.com")
    assert cdn.share_compliant is None
    assert cdn.not_judged_because.startswith("no policy was attached to the target")
    assert "not judged: no " in render(doc, ComplianceFormat.MARKDOWN)

    data = json.loads(render(doc, ComplianceFormat.JSON))
    assert data["endpoints"][0]["stretches"][0]["verdict"] == "PASS"
    rows = list(csv.DictReader(io.StringIO(render(doc, ComplianceFormat.CSV))))
    assert {r["ip"] for r in rows} == {"192.0.2.1", "192.0.2.9", "198.51.100.4"}
    markdown = render(doc, ComplianceFormat.MARKDOWN)
    assert "## api.example.com" in markdown and "| 192.0.2.9 | US aws us-east-1 |" in markdown
    html = render(doc, ComplianceFormat.HTML)
    assert "@media print" in html and "<link" not in html and "src=" not in html
    assert html.count('class="drift"') == len(api.drifts)


def test_cli_writes_each_format_and_says_when_the_period_is_empty(tmp_path: Path) -> None:
    db = history(tmp_path)
    for fmt in ("html", "markdown", "json", "csv"):
        out = tmp_path / f"report.{fmt}"
        args = ["report", "--since", "2023-11-14", "--until", "2023-11-16", "--format", fmt]
        result = CliRunner().invoke(cli, [*args, "-o", str(out), "--db", db])
        assert result.exit_code == 0, result.output
        assert "api.example.com" in out.read_text(encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "--since",
            "2020-01-01",
            "--until",
            "2020-02-01",
            "--format",
            "markdown",
            "--db",
            db,
        ],
    )
    assert result.exit_code == 0 and "No data:" in result.stdout
    assert "no endpoint was checked between 2020-01-01" in result.stdout


@pytest.mark.integration
def test_compliance_html_renders_in_chromium(tmp_path: Path) -> None:
    binary = require_binary("chromium", "chromium-browser", "google-chrome")
    db = history(tmp_path)
    with open_store(db) as store:
        page = tmp_path / "compliance.html"
        page.write_text(render(build(store, T0 - 60, T0 + 7200), ComplianceFormat.HTML))
    dumped = chromium(binary, tmp_path / "p1", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert dumped.stdout.count('class="endpoint"') == 2
    assert dumped.stdout.count('<path class="land"') >= 170
    assert dumped.stdout.count('class="stretch"') == 3
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "compliance-report.png"
    shot.unlink(missing_ok=True)
    taken = chromium(
        binary, tmp_path / "p2", f"--screenshot={shot}", "--window-size=1280,1400", page.as_uri()
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_policy_gives_waiver_expiry_and_a_bad_policy_is_one_line(tmp_path: Path) -> None:
    db = history(tmp_path)
    policy = tmp_path / "w.toml"
    policy.write_text(
        'name = "w"\nversion = "7"\n[countries]\nallow = ["DE"]\n[[waivers]]\n'
        'host = "api.example.com"\njustification = "moving"\nowner = "platform"\n'
        "expires = 2027-03-31\n",
        encoding="utf-8",
    )
    args = ["report", "--since", "2023-11-14", "--until", "2023-11-16", "--format", "markdown"]
    result = CliRunner().invoke(cli, [*args, "--policy", str(policy), "--db", db])
    assert result.exit_code == 0, result.output
    assert "waiver `waivers[api.example.com]`" in result.stdout
    assert "expires 2027-03-31 (owner platform; w)" in result.stdout
    result = CliRunner().invoke(cli, [*args, "--policy", str(tmp_path / "nope.toml"), "--db", db])
    assert result.exit_code == 2 and "nope.toml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_policy_rejudges_the_recorded_history_and_says_so(tmp_path: Path) -> None:
    """api.example.com was recorded under eu-only 1 (PASS in DE, then FAIL in the US);
    cdn.example.com under no policy. Re-judged with a US-only policy, both flip."""
    db = history(tmp_path)
    policy = tmp_path / "us.toml"
    policy.write_text('name = "us-only"\nversion = "3"\n[countries]\nallow = ["US"]\n')
    period = ["--since", "2023-11-14", "--until", "2023-11-16", "--db", db]
    text = CliRunner().invoke(cli, ["report", *period, "--policy", str(policy)])
    assert text.exit_code == 0, text.output
    assert "re-judged with policy us-only 3 from the recorded facts" in text.stdout
    assert "cdn.example.com: 0.00% compliant (0/1 checks)" in text.stdout
    data = json.loads(
        CliRunner().invoke(cli, ["report", *period, "--policy", str(policy), "--json"]).stdout
    )
    assert data["rejudged_with"] == "us-only 3"
    doc = CliRunner().invoke(cli, ["report", *period, "--policy", str(policy), "--format", "json"])
    assert doc.exit_code == 0, doc.output
    document = json.loads(doc.stdout)
    assert document["rejudged_with"] == "us-only 3"
    api = next(s for s in document["endpoints"] if s["host"] == "api.example.com")
    assert [st["verdict"] for st in api["stretches"]] == ["FAIL", "PASS"]
    assert {st["policy"] for st in api["stretches"]} == {"us-only 3"}
    assert api["stretches"][1]["addresses"][0]["verdict"] == "PASS"
    assert document["policies"] == ["eu-only 1"]  # what was recorded, not used
    markdown = (
        CliRunner()
        .invoke(cli, ["report", *period, "--policy", str(policy), "--format", "markdown"])
        .stdout
    )
    assert "Re-judged after the fact with policy us-only 3" in markdown
