"""The shipped example policies do what their comments promise."""

from __future__ import annotations

from datetime import date

from residency.model import Verdict
from residency.paths import project_data_dir
from residency.policy import Policy, evaluate, load_policy
from tests.policy.factories import JURISDICTIONS, facts, result
from tests.policy.test_loader import example_regions

TODAY = date(2026, 11, 28)


def example(name: str) -> Policy:
    path = project_data_dir() / "policies" / f"{name}.toml"
    return load_policy(path, jurisdictions=JURISDICTIONS, regions=example_regions())


def test_india_payments() -> None:
    india = example("india-payments")
    mumbai = facts(country="IN", provider="aws", region="ap-south-1", basis="provider-feed")
    singapore = facts(country="SG", provider="aws", region="ap-southeast-1")
    edge = facts(country=None, provider="cloudflare", cdn=True, anycast=True)
    assert evaluate(india, result("pay.shop.in", mumbai), TODAY).verdict is Verdict.PASS
    assert evaluate(india, result("pay.shop.in", singapore), TODAY).verdict is Verdict.FAIL
    assert evaluate(india, result("pay.shop.in", edge), TODAY).verdict is Verdict.FAIL
    # Not payment data: anywhere, an edge only warns.
    assert evaluate(india, result("www.shop.in", singapore), TODAY).verdict is Verdict.PASS
    warned = evaluate(india, result("www.shop.in", edge), TODAY)
    assert warned.verdict is Verdict.WARN and warned.addresses[0].reasons[0].code == "anycast"
    assert warned.addresses[0].reasons[0].verdict is Verdict.WARN
    # The card vault must be in an Indian region of a contracted cloud, not just in India.
    on_prem = facts(country="IN")
    vault = evaluate(india, result("vault.shop.in", on_prem), TODAY)
    assert vault.verdict is Verdict.FAIL
    assert vault.addresses[0].reasons[0].code == "provider-not-allowed"
    assert evaluate(india, result("vault.shop.in", mumbai), TODAY).verdict is Verdict.PASS


def test_eu_only_gdpr() -> None:
    gdpr = example("eu-only-gdpr")
    # the place passes; the recipient is unknown, and unknown_controller = "warn" says so
    ireland = evaluate(gdpr, result("app.example", facts(country="IE")), TODAY)
    assert ireland.addresses[0].verdict is Verdict.PASS
    assert ireland.verdict is Verdict.WARN
    assert [r.code for r in ireland.reasons] == ["controller-unknown"]
    assert evaluate(gdpr, result("app.example", facts(country="CH")), TODAY).verdict is Verdict.FAIL
    swiss = result("analytics.example", facts(country="CH"))
    assert evaluate(gdpr, swiss, TODAY).addresses[0].verdict is Verdict.PASS
    us = result("analytics.example", facts(country="US"))
    assert evaluate(gdpr, us, TODAY).verdict is Verdict.FAIL
    # cdn = "warn": an unplaced anycast edge (Google's global load balancer) is WARN,
    # never PASS, and a CDN edge placed in the EEA is WARN too (its origin is unknown)
    google_lb = facts(ip="34.102.128.1", country=None, provider="gcp", anycast=True)
    edge = evaluate(gdpr, result("app.example", google_lb), TODAY)
    assert edge.verdict is Verdict.WARN
    assert [r.code for r in edge.addresses[0].reasons] == ["anycast"]
    placed_edge = facts(country="DE", provider="cloudfront", cdn=True)
    assert evaluate(gdpr, result("app.example", placed_edge), TODAY).verdict is Verdict.WARN
    # the identity rule does not warn: an edge it cannot place stays INDETERMINATE
    login = evaluate(gdpr, result("login.example", google_lb), TODAY)
    assert login.verdict is Verdict.INDETERMINATE


def test_strict_and_sovereign() -> None:
    strict = example("strict-single-country")
    german = facts(country="DE", jurisdiction="DE", entity="Hetzner Online GmbH")
    aws_frankfurt = facts(country="DE", provider="aws", region="eu-central-1", jurisdiction="US")
    assert evaluate(strict, result("a.example", german), TODAY).verdict is Verdict.PASS
    judged = evaluate(strict, result("a.example", aws_frankfurt), TODAY)
    assert judged.verdict is Verdict.FAIL and judged.addresses[0].aspect == "operator"
    unknown = facts(country="DE")
    assert evaluate(strict, result("a.example", unknown), TODAY).verdict is Verdict.FAIL

    sovereign = example("eu-sovereign")
    judged = evaluate(sovereign, result("a.example", aws_frankfurt), TODAY)
    assert judged.verdict is Verdict.FAIL
    assert judged.addresses[0].reasons[0].code == "operator-jurisdiction-denied"
    hetzner = evaluate(sovereign, result("a.example", german), TODAY)
    assert hetzner.addresses[0].verdict is Verdict.PASS  # German operator, German place
    assert hetzner.verdict is Verdict.WARN  # no evidence of who runs the service: said
    assert [r.code for r in hetzner.reasons] == ["controller-unknown"]


def test_defence_personnel_judges_every_side() -> None:
    from dataclasses import replace

    from residency.model import Confidence, Controller, Place, ProbeResult

    defence = example("defence-personnel")
    indian = Controller("Example India Pvt Ltd", "IN", "OV certificate", Confidence.MEDIUM)
    chinese = Controller("Beijing Kitephone Ltd.", "CN", "OV certificate", Confidence.MEDIUM)
    at_home = facts(country="IN", jurisdiction="IN", entity="Example DC India")
    ok = replace(result("hr.example.in", at_home), controller=indian)
    assert evaluate(defence, ok, TODAY).verdict is Verdict.PASS
    # Singapore, on a US operator, controlled from China: every side is named
    abroad = facts(country="SG", provider="aws", region="ap-southeast-1", jurisdiction="US")
    bad = evaluate(defence, replace(result("hr.example.in", abroad), controller=chinese), TODAY)
    assert bad.verdict is Verdict.FAIL and bad.addresses[0].aspect == "both"
    assert {r.code for r in bad.reasons} == {"controller-not-allowed"}
    # unknown controller (not probed) fails; a CDN without an edge seen is indeterminate
    unprobed = evaluate(defence, result("hr.example.in", at_home), TODAY)
    assert unprobed.verdict is Verdict.FAIL and unprobed.reasons[0].code == "controller-unknown"
    edge = facts(country=None, provider="cloudflare", cdn=True, anycast=True, jurisdiction="IN")
    cdn = replace(result("hr.example.in", edge), controller=indian)
    assert evaluate(defence, cdn, TODAY).verdict is Verdict.INDETERMINATE
    seen = ProbeResult(
        "http",
        edge.ip,
        443,
        "ok",
        "cf-ray x-BOM",
        "2026-11-28T00:00:00+00:00",
        edge_cdn="cloudflare",
        edge_pop="BOM",
        edge_place=Place("IN", city="Mumbai"),
    )
    assert evaluate(defence, replace(cdn, probes=(seen,)), TODAY).verdict is Verdict.PASS
