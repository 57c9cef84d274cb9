"""Endpoints grouped by controller and by registrable domain, in every report that shows them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from residency.audit.groups import IP_LITERAL, NO_PROBE, NO_SUFFIX, endpoint_groups
from residency.model import AuditResult, Confidence, Controller, Endpoint, EndpointResult
from residency.report import OutputFormat, RenderOptions, render
from tests.report.sample import judged
from tests.report.test_html_browser import chromium
from tests.support import REPO, require_binary

XIAOMI = "Beijing Xiaomi Mobile Software Co., Ltd."
OV = Controller(XIAOMI, "CN", "OV certificate", Confidence.MEDIUM, "issuer test CA")
NONE = Controller(None, None, "none", Confidence.NONE, "DV certificate: names no organisation")

# sample endpoint index -> (host it is renamed to, its controller)
RENAMED = {
    0: ("api.account.xiaomi.com", OV),  # IN
    1: ("cdn.xiaomi.com", OV),  # CDN edge, no place
    2: ("sg.api.io.mi.com", OV),  # US
    3: ("legacy.xiaomi.com", NONE),  # SG
    5: ("intranet.example", NONE),  # not under a public suffix
}


def grouped() -> AuditResult:
    """The report fixture with real-looking names and controllers, grouped as the audit does."""
    base = judged()
    changed: list[EndpointResult] = []
    for index, result in enumerate(base.endpoints):
        if index in RENAMED:
            host, controller = RENAMED[index]
            endpoint = replace(result.endpoint, host=host, display=host)
            result = replace(result, endpoint=endpoint, controller=controller)
        changed.append(result)
    return replace(base, endpoints=tuple(changed), groups=endpoint_groups(changed))


def test_groups_by_controller_then_domain() -> None:
    result = grouped()
    by_controller = [g for g in result.groups if g.by == "controller"]
    by_domain = [g for g in result.groups if g.by == "domain"]
    first = by_controller[0]
    assert (first.name, first.country) == (XIAOMI, "CN")
    assert first.hosts == ("api.account.xiaomi.com", "cdn.xiaomi.com", "sg.api.io.mi.com")
    assert first.hosted_in[:2] in (("IN", "US"), ("US", "IN"))
    unknown = by_controller[-1]
    assert unknown.name is None and "DV certificate" in unknown.why and NO_PROBE in unknown.why
    # gone.shop.example was never probed (no controller): it joins the unknown group
    assert "gone.shop.example" in unknown.hosts
    assert [g.name for g in by_domain[:2]] == ["xiaomi.com", "mi.com"]
    assert by_domain[0].hosts == ("api.account.xiaomi.com", "cdn.xiaomi.com", "legacy.xiaomi.com")
    assert by_domain[-1].name is None
    assert NO_SUFFIX in by_domain[-1].why and IP_LITERAL in by_domain[-1].why
    assert "10.0.0.5" in by_domain[-1].hosts


def test_no_controller_groups_without_any_controller() -> None:
    plain = judged()
    groups = endpoint_groups(plain.endpoints)
    assert {g.by for g in groups} == {"domain"}
    # .example names are under no public suffix: one unknown group, which the terminal omits
    text = render(replace(plain, groups=groups), OutputFormat.TERMINAL, RenderOptions(width=160))
    assert "by domain:" not in text and "by controller:" not in text


def test_terminal_summary_block() -> None:
    # -v: the default view names each endpoint's controller in its row instead
    text = render(grouped(), OutputFormat.TERMINAL, RenderOptions(width=200, verbose=True))
    block = text[text.index("by controller:") :]
    assert f"  {XIAOMI} (CN): 3 endpoints, hosted in " in block
    assert "[FAIL]" in block.splitlines()[1]
    assert "by domain:" in block and "  xiaomi.com: 3 endpoints" in block
    assert "controller unknown (" in block


def test_json_groups_section_matches_schema() -> None:
    data = json.loads(render(grouped(), OutputFormat.JSON))
    schema = json.loads((REPO / "docs" / "report-schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    first = data["groups"][0]
    assert first["by"] == "controller" and first["name"] == XIAOMI and first["country"] == "CN"
    assert first["verdict"] == "FAIL"
    assert first["text"].startswith(f"{XIAOMI} (CN): 3 endpoints, hosted in ")
    assert [g["name"] for g in data["groups"] if g["by"] == "domain"][:2] == [
        "xiaomi.com",
        "mi.com",
    ]


def test_markdown_groups() -> None:
    text = render(grouped(), OutputFormat.MARKDOWN)
    assert "### By controller" in text and "### By registrable domain" in text
    assert f"**{XIAOMI} (CN): 3 endpoints" in text
    assert "`api.account.xiaomi.com`" in text


def test_single_endpoint_has_no_group_block() -> None:
    one = grouped()
    one = replace(one, endpoints=one.endpoints[:1], groups=endpoint_groups(one.endpoints[:1]))
    options = RenderOptions(width=160, verbose=True)
    assert "by controller:" not in render(one, OutputFormat.TERMINAL, options)


def test_ip_literal_endpoint_groups() -> None:
    literal = EndpointResult(Endpoint("192.0.2.1", "192.0.2.1", is_ip=True), (), ())
    (group,) = endpoint_groups([literal])
    assert (group.by, group.name, group.why, group.hosted_in) == ("domain", None, IP_LITERAL, ())


@pytest.mark.integration
def test_html_groups_in_chromium(tmp_path: Path) -> None:
    binary = require_binary("chromium", "chromium-browser", "google-chrome")
    page = tmp_path / "groups.html"
    page.write_text(render(grouped(), OutputFormat.HTML), encoding="utf-8")
    dumped = chromium(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert 'id="groups-controller"' in dom and 'id="groups-domain"' in dom
    controllers = dom[dom.index('id="groups-controller"') : dom.index('id="groups-domain"')]
    assert controllers.count('class="group"') == 2
    assert f"{XIAOMI} (CN): 3 endpoints, hosted in" in controllers.replace("&amp;", "&")
    first = controllers.split('class="group"')[1]
    assert first.count("<li>") == 3 and "sg.api.io.mi.com" in first
    assert 'data-verdict="FAIL"' in controllers


def test_every_format_carries_the_controller_and_the_edge_seen() -> None:
    import csv
    import io
    import xml.etree.ElementTree as ET

    from residency.model import Place, ProbeResult

    edge = ProbeResult(
        "http",
        "192.0.2.1",
        443,
        "ok",
        edge_cdn="cloudfront",
        edge_pop="BOM",
        edge_place=Place("IN", city="Mumbai"),
    )
    base = grouped()
    # sg.api.io.mi.com is placed in the US and fails: it has SARIF findings
    failing = replace(base.endpoints[2], probes=(edge,))
    result = replace(base, endpoints=(*base.endpoints[:2], failing, *base.endpoints[3:]))
    seen = "cloudfront edge for this vantage (local): BOM, Mumbai, IN"
    rows = list(csv.DictReader(io.StringIO(render(result, OutputFormat.CSV))))
    mine = [r for r in rows if r["host"] == "sg.api.io.mi.com"]
    assert mine and all(r["controller"] == XIAOMI for r in mine)
    assert mine[0]["controller_country"] == "CN" and mine[0]["controller_basis"] == "OV certificate"
    assert mine[0]["edge_seen"] == seen
    junit = ET.fromstring(render(result, OutputFormat.JUNIT))
    out = "".join(e.text or "" for e in junit.iter("system-out"))
    assert f"controlled by {XIAOMI} (CN, OV certificate)" in out and seen in out
    sarif = json.loads(render(result, OutputFormat.SARIF))
    found = [
        r["properties"]
        for r in sarif["runs"][0]["results"]
        if r["properties"]["host"] == "sg.api.io.mi.com"
    ]
    assert found and found[0]["controller"].startswith(f"controlled by {XIAOMI}")
    assert found[0]["edgeSeen"] == seen
    for fmt in (OutputFormat.JSON, OutputFormat.JSONL, OutputFormat.MARKDOWN, OutputFormat.HTML):
        text = render(result, fmt)
        assert XIAOMI in text and "BOM" in text, fmt
    for fmt in (OutputFormat.MARKDOWN, OutputFormat.HTML):
        assert seen in render(result, fmt), fmt
