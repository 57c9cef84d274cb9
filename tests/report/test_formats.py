"""Every report format from ONE fixed audit, each checked for what it says."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import jsonschema
import pytest

from residency.report import (
    FORMATTERS,
    JunitIndeterminate,
    OutputFormat,
    RenderOptions,
    ReportError,
    render,
    summary_line,
)
from tests.report.sample import judged, judged_with_path, unjudged
from tests.support import REPO, shared


def test_every_format_has_a_formatter() -> None:
    for fmt in OutputFormat:
        assert fmt in FORMATTERS
        assert fmt.to_format().render(judged())
    assert OutputFormat.parse("SARIF") is OutputFormat.SARIF
    with pytest.raises(ReportError, match="unknown report format 'yaml'; choose one of terminal"):
        OutputFormat.parse("yaml")


def test_summary_line() -> None:
    line = summary_line(judged())
    assert line.startswith(
        "FAIL: 7 endpoints, 6 addresses in 4 countries (IN 1, US 1, SG 1, DE 1), "
        "2 without a location;"
    )
    assert "2 PASS, 1 WAIVED, 3 INDETERMINATE, 1 FAIL" in line
    assert "(policy shop-residency 3)" in line and "1 input problem(s)" in line
    assert "no policy applied" in summary_line(unjudged())


def test_terminal_table() -> None:
    text = render(judged(), OutputFormat.TERMINAL, RenderOptions(verbose=True))
    lines = text.splitlines()
    assert lines[0].split() == [
        "VERDICT",
        "ENDPOINT",
        "CHAIN",
        "ADDRESS",
        "LOCATION",
        "CONF",
        "PROVIDER",
        "OPERATOR",
        "EVIDENCE",
        "WHY",
    ]
    analytics = next(line for line in lines if "analytics.shop.example" in line)
    assert (
        analytics.startswith("FAIL") and "198.51.100.7" in analytics and "US / US-VA" in analytics
    )
    assert "located in US (United States)" in analytics
    pay = next(line for line in lines if "pay.shop.example" in line)
    assert "aws:ap-south-1" in pay and "Amazon Web Services, Inc. (US)" in pay
    assert any(line.startswith("PASS") and "bücher.example" in line for line in lines)
    assert "input problem: hosts.txt:6: 'http//bad'" in text
    assert "\x1b[" not in text
    coloured = render(judged(), "terminal", RenderOptions(color=True, verbose=True))
    assert "\x1b[31m\x1b[1mFAIL" in coloured  # red, bold
    plain = render(unjudged(), "terminal").splitlines()
    assert plain[0].split()[0] == "ENDPOINT" and "VERDICT" not in plain[0]


def test_json_report_matches_schema_and_content() -> None:
    schema = json.loads((REPO / "docs" / "report-schema.json").read_text(encoding="utf-8"))
    data = json.loads(render(judged_with_path(), OutputFormat.JSON))
    jsonschema.validate(data, schema)
    jsonschema.validate(json.loads(render(unjudged(), "json")), schema)
    assert data["schema"] == "residency-report/1"
    assert data["verdict"] == "FAIL"
    assert data["policy"] == {
        "name": "shop-residency",
        "version": "3",
        "path": "policies/shop.toml",
        "sha256": "ab" * 32,
    }
    assert data["summary"]["verdicts"] == {"PASS": 2, "WAIVED": 1, "INDETERMINATE": 3, "FAIL": 1}
    assert "IP Geolocation by DB-IP https://db-ip.com" in data["attributions"]
    assert [v["dataset"] for v in data["data_versions"]] == ["aws-ip-ranges", "dbip-country-lite"]
    by_host = {e["host"]: e for e in data["endpoints"]}
    pay = by_host["pay.shop.example"]
    assert pay["categories"] == ["payments"]
    step = pay["resolutions"][0]["chain"][0]
    assert step == {
        "owner": "pay.shop.example",
        "rtype": "CNAME",
        "target": "pay-lb.ap-south-1.elb.amazonaws.com",
        "ttl": 300,
    }
    address = pay["addresses"][0]
    assert address["location"]["city"] == "Mumbai"
    assert address["operator"]["jurisdiction"] == "US"
    assert address["registration"]["org"] == "Amazon Data Services India"
    assert address["evidence"][0]["summary"].startswith("aws-ip-ranges: aws:ap-south-1, EC2, IN")
    assert address["reasons"][0]["code"] == "country-allowed"
    assert address["reasons"][0]["rule"] == "rules[payments]"
    legacy = by_host["legacy.shop.example"]["addresses"][0]
    assert legacy["verdict"] == "WAIVED" and legacy["reasons"][0]["code"] == "waived"
    gone = by_host["gone.shop.example"]
    assert gone["verdict"] == "INDETERMINATE" and gone["resolutions"][0]["outcome"] == "nxdomain"
    assert gone["reasons"][0]["code"] == "resolution-failed"
    assert by_host["xn--bcher-kva.example"]["display"] == "bücher.example"


def test_csv_rows() -> None:
    rows = list(csv.DictReader(io.StringIO(render(judged(), OutputFormat.CSV))))
    assert len(rows) == 7  # six addresses and one endpoint without any
    by_host = {r["host"]: r for r in rows}
    analytics = by_host["analytics.shop.example"]
    assert analytics["address_verdict"] == "FAIL" and analytics["country"] == "US"
    assert "not in countries.allow = [IN, @EU]" in analytics["reasons"]
    assert analytics["evidence"] == "geoip:dbip-country-lite: US"
    pay = by_host["pay.shop.example"]
    assert pay["cname_chain"] == "pay.shop.example -> pay-lb.ap-south-1.elb.amazonaws.com"
    assert pay["operator_jurisdiction"] == "US" and pay["registered_country"] == "IN"
    assert by_host["gone.shop.example"]["resolution"] == "nxdomain"
    assert by_host["gone.shop.example"]["ip"] == ""
    assert by_host["cdn.shop.example"]["anycast"] == "yes"


def test_markdown_for_a_pull_request() -> None:
    text = render(judged(), OutputFormat.MARKDOWN)
    assert text.startswith("## ❌ residency audit: FAIL\n")
    assert "Policy **shop-residency** version 3." in text
    assert "| ❌ FAIL | 1 |" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    first = next(line for line in table if "`analytics.shop.example`" in line)
    assert first.startswith("| ❌ FAIL |") and "located in US (United States)" in first
    assert table.index(first) < table.index(next(x for x in table if "`pay.shop.example`" in x))
    assert "`bücher.example (xn--bcher-kva.example)`" in text
    assert "<details><summary>Evidence per endpoint</summary>" in text
    assert "chain `pay.shop.example -> pay-lb.ap-south-1.elb.amazonaws.com`" in text
    assert "  - evidence: aws-ip-ranges: aws:ap-south-1, EC2, IN" in text
    assert "- `dbip-country-lite` 2026-11 (fetched 2026-11-27T10:00:00Z)" in text
    assert "[IP Geolocation by DB-IP](https://db-ip.com)" in text
    # A pipe inside a cell cannot break the table.
    assert all(line.count(" | ") + 2 >= 8 for line in table if "`" in line)


def _sarif() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(judged(), OutputFormat.SARIF))
    return data


def test_sarif_validates_against_the_official_schema() -> None:
    schema = json.loads(shared("schemas", "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class(schema).validate(_sarif())


def test_sarif_rules_levels_and_suppressions() -> None:
    run = _sarif()["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {
        "anycast",
        "country-not-allowed",
        "not-routable",
        "resolution-failed",
    }
    assert rules["country-not-allowed"]["defaultConfiguration"]["level"] == "error"
    results = run["results"]
    levels = {(r["properties"]["host"], r["ruleId"]): r["level"] for r in results}
    assert levels[("analytics.shop.example", "country-not-allowed")] == "error"
    assert levels[("cdn.shop.example", "anycast")] == "warning"
    assert levels[("gone.shop.example", "resolution-failed")] == "warning"
    waived = next(r for r in results if r["properties"]["host"] == "legacy.shop.example")
    assert waived["ruleId"] == "country-not-allowed"
    suppression = waived["suppressions"][0]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    assert "moving to ap-south-1 by March" in suppression["justification"]
    assert not any("suppressions" in r for r in results if r is not waived)
    analytics = next(r for r in results if r["properties"]["host"] == "analytics.shop.example")
    physical = analytics["locations"][0]["physicalLocation"]
    assert physical == {"artifactLocation": {"uri": "hosts.txt"}, "region": {"startLine": 3}}
    assert analytics["message"]["text"].startswith("analytics.shop.example (198.51.100.7): located")
    assert all(
        rules[r["ruleId"]] is run["tool"]["driver"]["rules"][r["ruleIndex"]] for r in results
    )
    assert run["properties"]["verdict"] == "FAIL"


def _junit(options: RenderOptions | None = None) -> ET.Element:
    return ET.fromstring(render(judged(), OutputFormat.JUNIT, options))


def test_junit_one_testcase_per_endpoint() -> None:
    root = _junit()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases][:3] == [
        "pay.shop.example",
        "cdn.shop.example",
        "analytics.shop.example",
    ]
    assert len(cases) == 7
    assert root.get("tests") == "7" and root.get("failures") == "1" and root.get("skipped") == "3"
    assert root.get("time") == "2.500"
    by_name = {c.get("name"): c for c in cases}
    failure = by_name["analytics.shop.example"].find("failure")
    assert failure is not None and "located in US" in (failure.get("message") or "")
    assert "evidence: geoip:dbip-country-lite: US" in (failure.text or "")
    skipped = by_name["cdn.shop.example"].find("skipped")
    assert skipped is not None and (skipped.get("message") or "").startswith(
        "INDETERMINATE: anycast"
    )
    legacy = by_name["legacy.shop.example"]
    assert legacy.find("failure") is None and legacy.find("skipped") is None
    assert "waived until 2027-03-31" in (legacy.findtext("system-out") or "")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["data:aws-ip-ranges"] == "2026-08-22-15-17-05"

    strict = _junit(RenderOptions(junit_indeterminate=JunitIndeterminate.FAILURE))
    assert strict.get("failures") == "4" and strict.get("skipped") == "0"
    lenient = _junit(RenderOptions(junit_indeterminate=JunitIndeterminate.PASS))
    assert lenient.get("failures") == "1" and lenient.get("skipped") == "0"


URL = re.compile(r"""(?:src|href|action|poster|data)\s*=\s*["']?([^"' >]+)""", re.IGNORECASE)


def test_html_is_self_contained_and_complete() -> None:
    text = render(judged(), OutputFormat.HTML)
    targets = URL.findall(text)
    assert targets == ["https://db-ip.com"], targets  # the attribution is the only link
    assert "url(" not in text and "@import" not in text and "<link" not in text
    assert (
        '<div id="verdict"><span class="badge big" style="background:#c62828">FAIL</span>' in text
    )
    assert "IP Geolocation by DB-IP" in text
    assert 'data-country="IN" data-verdict="PASS"' in text
    assert 'data-country="US" data-verdict="FAIL"' in text
    assert 'data-country="SG" data-verdict="WAIVED"' in text
    assert '<circle class="address" data-country="US" data-verdict="FAIL"' in text
    assert '<circle class="address" data-country="DE" data-verdict="PASS"' in text
    assert "2 addresses without a location (anycast, private, no data) are not on the map" in text
    assert "pay.shop.example -&gt; pay-lb.ap-south-1.elb.amazonaws.com" in text
    assert "aws-ip-ranges: aws:ap-south-1, EC2, IN" in text
    assert "<h4>Control</h4><b>Amazon Web Services, Inc. (US)</b>" in text
    assert "registered to Amazon Data Services India, IN (apnic, 13.232.0.0/14)" in text
    assert "<td>dbip-country-lite</td><td>2026-11</td>" in text
    assert "bücher.example" in text


def test_reports_without_a_policy_say_so() -> None:
    result = unjudged()
    assert "NOT JUDGED" in render(result, "markdown").splitlines()[0]
    assert "No policy applied" in render(result, "html")
    root = ET.fromstring(render(result, "junit"))
    assert root.get("failures") == "0" and root.get("tests") == "7"
    assert json.loads(render(result, "sarif"))["runs"][0]["results"] == []
    assert {r["endpoint_verdict"] for r in csv.DictReader(io.StringIO(render(result, "csv")))} == {
        ""
    }


def test_expired_waiver_and_warnings_in_sarif_and_junit() -> None:
    from residency.model import AuditResult
    from residency.policy import apply_policy
    from tests.policy.factories import facts, policy, result
    from tests.policy.test_evaluate import TODAY, WAIVERS

    audit = AuditResult(
        run_id="r2",
        started="2026-11-28T00:00:00Z",
        finished="2026-11-28T00:00:01Z",
        endpoints=(
            result("old.example", facts(country="US")),
            result("soon.example", facts("192.0.2.20", country="US")),
        ),
        data_versions=(),
    )
    judged_audit = apply_policy(policy(WAIVERS), audit, TODAY)
    sarif = json.loads(render(judged_audit, OutputFormat.SARIF))
    schema = json.loads(shared("schemas", "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    found = {(r["properties"]["host"], r["ruleId"]): r for r in results}
    expired = found[("old.example", "waiver-expired")]
    assert expired["level"] == "error" and "expired on 2026-01-31" in expired["message"]["text"]
    assert "suppressions" not in found[("old.example", "country-not-allowed")]
    assert found[("soon.example", "waiver-expiring")]["level"] == "note"
    assert found[("soon.example", "country-not-allowed")]["suppressions"][0]["status"] == "accepted"
    root = ET.fromstring(render(judged_audit, OutputFormat.JUNIT))
    assert root.get("failures") == "1"
    markdown = render(judged_audit, OutputFormat.MARKDOWN)
    # brackets are escaped (text, never a link): "\[" reads "[" in CommonMark
    assert "### Notes" in markdown and r"waivers\[old.example\] expired on 2026-01-31" in markdown


def test_sarif_every_result_has_a_physical_location_and_every_rule_help() -> None:
    # Code scanning rejects a result without a physical location.
    run = _sarif()["runs"][0]
    for entry in run["results"]:
        physical = entry["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"], entry
        assert physical["region"]["startLine"] >= 1, entry
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["help"]["text"].startswith(rule["fullDescription"]["text"])
        assert len(rule["help"]["text"]) > len(rule["fullDescription"]["text"])


def test_sarif_physical_location_fallbacks() -> None:
    from residency.report.sarif_report import SarifFormatter

    formatter = SarifFormatter()
    formatter.policy_uri = "policies/eu.toml"
    assert formatter.physical("hosts.txt:3")["region"] == {"startLine": 3}
    har = formatter.physical("capture.har entry 4")
    assert har == {"artifactLocation": {"uri": "capture.har"}, "region": {"startLine": 1}}
    argv = formatter.physical("argv")
    assert argv == {"artifactLocation": {"uri": "policies/eu.toml"}, "region": {"startLine": 1}}


def test_sarif_points_at_the_policy_rule_that_decided() -> None:
    from residency.model import AuditResult
    from residency.policy import apply_policy
    from residency.report.sarif_report import SarifFormatter
    from tests.policy.factories import facts, policy, result

    text = """name = "lines"
version = "1"

[[rules]]
name = "payments"
hosts = ["pay.*"]
[rules.countries]
allow = ["IN"]
"""
    judged_policy = policy(text, origin="policies/lines.toml")
    assert judged_policy.ref.line_of("rules[payments]") == 4
    assert judged_policy.ref.line_of("policy") == 0
    audit = AuditResult(
        run_id="r3",
        started="2026-11-28T00:00:00Z",
        finished="2026-11-28T00:00:01Z",
        endpoints=(result("pay.shop.example", facts(country="US")),),
        data_versions=(),
    )
    sarif = json.loads(SarifFormatter().render(apply_policy(judged_policy, audit, None)))
    [finding] = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "country-not-allowed"]
    related = finding["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"] == "lines.toml"  # parsed from text: no path
    assert related["region"]["startLine"] == 4
    # A command-line target has no input line: the finding itself points at the rule.
    assert finding["locations"][0]["physicalLocation"]["region"]["startLine"] == 4


def test_cli_format_choices_are_the_enums() -> None:
    import click

    from residency.cli import cli
    from residency.report.interface import ComplianceFormat

    def choices(command: str, option: str) -> list[str]:
        found = cli.commands[command]  # type: ignore[attr-defined]
        param = next(p for p in found.params if option in getattr(p, "opts", ()))
        assert isinstance(param.type, click.Choice)
        return list(param.type.choices)

    assert choices("audit", "--format") == [f.value for f in OutputFormat]
    assert "jsonl" in choices("audit", "--format")
    assert choices("report", "--format") == ["text", *(f.value for f in ComplianceFormat)]
