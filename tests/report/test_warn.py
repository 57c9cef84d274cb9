"""WARN: what a policy chose to warn about is its own verdict in every format, in the
history and the metrics, never a PASS; the exit status is 0 unless ``--fail-on warn``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from residency.audit.run import _exit_code
from residency.drift import DriftKind
from residency.model import AuditResult, Verdict
from residency.report import JunitIndeterminate, OutputFormat, RenderOptions, render
from residency.report.compliance import build
from residency.report.compliance import render as render_compliance
from residency.report.interface import ComplianceFormat
from residency.store import open_store
from tests.report.sample import POLICY, TODAY, unjudged
from tests.store.builders import Addr, Host, audit_result
from tests.support import REPO

CDN = "cdn.shop.example"


def warned() -> AuditResult:
    """The report fixture judged with ``cdn = "warn"``: the Cloudflare edge is WARN."""
    from residency.policy import apply_policy
    from tests.policy.factories import policy

    return apply_policy(policy('cdn = "warn"\n' + POLICY, "shop.toml"), unjudged(), TODAY)


def test_verdict_codes_are_stable_and_ordered_by_severity() -> None:
    # stored codes never change: rows written before WARN existed read as they did
    assert [int(v) for v in (Verdict.PASS, Verdict.WAIVED, Verdict.INDETERMINATE)] == [0, 1, 2]
    assert int(Verdict.FAIL) == 3 and int(Verdict.WARN) == 4 and Verdict(4) is Verdict.WARN
    assert list(Verdict.by_severity()) == [
        Verdict.PASS,
        Verdict.WAIVED,
        Verdict.WARN,
        Verdict.INDETERMINATE,
        Verdict.FAIL,
    ]
    assert max(Verdict.PASS, Verdict.WARN, Verdict.WAIVED) is Verdict.WARN
    assert max(Verdict.WARN, Verdict.INDETERMINATE) is Verdict.INDETERMINATE
    assert Verdict.WARN < Verdict.FAIL and Verdict.WARN > Verdict.PASS
    assert [v.compliant for v in Verdict.by_severity()] == [True, True, True, False, False]


def test_the_edge_is_warn_and_the_audit_too() -> None:
    result = warned()
    by_host = {e.endpoint.host: e for e in result.endpoints}
    assert by_host[CDN].verdict.verdict is Verdict.WARN
    (address,) = by_host[CDN].verdict.addresses
    assert address.verdict is Verdict.WARN
    assert address.reasons[0].code == "anycast" and address.reasons[0].verdict is Verdict.WARN
    assert "(anycast = warn)" in address.reasons[0].message


def test_exit_codes() -> None:
    ok, violations, usage = 0, 1, 2
    assert _exit_code(Verdict.WARN, "fail", False) == ok
    assert _exit_code(Verdict.WARN, "indeterminate", False) == ok
    assert _exit_code(Verdict.WARN, "warn", False) == violations
    assert _exit_code(Verdict.WAIVED, "warn", False) == ok
    assert _exit_code(Verdict.INDETERMINATE, "warn", False) == violations
    assert _exit_code(Verdict.FAIL, "fail", False) == violations
    assert _exit_code(Verdict.PASS, "warn", True) == usage


def test_json_and_jsonl() -> None:
    result = warned()
    data = json.loads(render(result, OutputFormat.JSON))
    schema = json.loads((REPO / "docs" / "report-schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    cdn = next(e for e in data["endpoints"] if e["host"] == CDN)
    assert cdn["verdict"] == "WARN" and cdn["addresses"][0]["verdict"] == "WARN"
    assert data["summary"]["verdicts"]["WARN"] == 1
    lines = [json.loads(line) for line in render(result, OutputFormat.JSONL).splitlines()]
    assert any(line.get("host") == CDN and line["verdict"] == "WARN" for line in lines)
    assert lines[-1]["summary"]["verdicts"]["WARN"] == 1


def test_csv_markdown_html() -> None:
    result = warned()
    rows = list(csv.DictReader(io.StringIO(render(result, OutputFormat.CSV))))
    cdn = next(r for r in rows if r["host"] == CDN)
    assert cdn["endpoint_verdict"] == "WARN" and cdn["address_verdict"] == "WARN"
    markdown = render(result, OutputFormat.MARKDOWN)
    assert f"| 🟡 WARN | `{CDN}` |" in markdown and "| 🟡 WARN | 1 |" in markdown
    html = render(result, OutputFormat.HTML)
    assert 'data-verdict="WARN"' in html and "#f9a825" in html


def test_sarif_warning() -> None:
    data = json.loads(render(warned(), OutputFormat.SARIF))
    (found,) = [r for r in data["runs"][0]["results"] if r["properties"]["host"] == CDN]
    assert found["level"] == "warning" and found["properties"]["verdict"] == "WARN"
    assert found["ruleId"] == "anycast"


def junit_case(text: str) -> ET.Element:
    root = ET.fromstring(text)
    return next(c for c in root.iter("testcase") if c.get("name") == CDN)


def test_junit_visible_but_not_a_failure() -> None:
    text = render(warned(), OutputFormat.JUNIT, RenderOptions())
    case = junit_case(text)
    assert case.find("failure") is None and case.find("skipped") is None
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["verdict"] == "WARN" and "anycast" in properties["warning"]
    assert (case.findtext("system-out") or "").startswith("WARN: ")
    # as with --fail-on warn, a WARN is a failure
    failing = RenderOptions(junit_indeterminate=JunitIndeterminate.FAILURE, junit_warn_fails=True)
    failed = junit_case(render(warned(), OutputFormat.JUNIT, failing))
    assert failed.find("failure") is not None and failed.find("failure").get("type") == "WARN"


def test_terminal_summary_line() -> None:
    from residency.report import summary_line

    assert "1 WARN" in summary_line(warned())


def test_history_drift_and_compliance(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "h.sqlite3"))
    passing = Host("edge.example", (Addr("192.0.2.1"),), verdict=Verdict.PASS)
    warning = Host("edge.example", (Addr("192.0.2.1"),), verdict=Verdict.WARN)
    failing = Host("edge.example", (Addr("192.0.2.1"),), verdict=Verdict.INDETERMINATE)
    t0 = 1_700_000_000.0
    store.record(audit_result("r1", t0, [passing], policy=True))
    store.record(audit_result("r2", t0 + 100, [warning], policy=True))
    store.record(audit_result("r3", t0 + 200, [failing], policy=True))
    store.record(audit_result("r4", t0 + 300, [warning], policy=True))
    changes = [(e.before, e.after) for e in store.events() if e.kind == DriftKind.VERDICT_CHANGED]
    # PASS -> WARN is drift, as is every change of verdict
    assert changes == [("PASS", "WARN"), ("WARN", "INDETERMINATE"), ("INDETERMINATE", "WARN")]
    report = store.report(t0, t0 + 400)
    (entry,) = report.endpoints
    assert entry.current_verdict == int(Verdict.WARN)
    assert entry.compliant_checks == 3 and entry.judged_checks == 4  # WARN is not a breach
    document = build(store, t0, t0 + 400)
    store.close()
    assert "now WARN" in render_compliance(document, ComplianceFormat.MARKDOWN)
    assert "WARN" in render_compliance(document, ComplianceFormat.CSV)
    assert "#f9a825" in render_compliance(document, ComplianceFormat.HTML)
    assert json.loads(render_compliance(document, ComplianceFormat.JSON))


def test_metrics_label() -> None:
    from prometheus_client import generate_latest

    from residency.monitor.metrics import MonitorMetrics

    metrics = MonitorMetrics()
    warning = Host("edge.example", (Addr("192.0.2.1"),), verdict=Verdict.WARN)
    result = audit_result("r1", 1_700_000_000.0, [warning], policy=True)
    metrics.batch_checked([], [result], 0, 0.1)
    text = generate_latest(metrics.registry).decode()
    assert 'residency_targets_by_verdict{policy="' in text and 'verdict="WARN"' in text


def test_cli_exit_status(small_dataset: Path) -> None:
    """34.102.128.1 (Google's global load balancer) under the shipped eu-only-gdpr."""
    env = {**os.environ, "RESIDENCY_DATA_DIR": str(small_dataset), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "residency", "audit", "--no-resolve", "34.102.128.1"]
    command += ["--policy", "eu-only-gdpr"]
    statuses = {}
    for fail_on in ("fail", "indeterminate", "warn"):
        done = subprocess.run(
            [*command, "--fail-on", fail_on],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert "Traceback" not in done.stderr
        statuses[fail_on] = done.returncode
        assert done.stdout.splitlines()[1].startswith("WARN ")
        assert done.stderr.startswith("WARN: ")
    assert statuses == {"fail": 0, "indeterminate": 0, "warn": 1}
