"""jurisdiction = "ultimate-parent", [sovereign] allow/deny and the DPF list in verdicts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from residency.control.dpf import DpfList, parse_dpf
from residency.control.names import name_key
from residency.control.sovereign import default_sovereign_clouds
from residency.model import Confidence, Controller, OwnerLink, Verdict
from residency.paths import project_data_dir
from residency.policy import Evaluator
from tests.policy.factories import facts, policy, result

TODAY = date(2026, 12, 7)
ESC = Controller(
    "AWS European Sovereign Cloud GmbH",
    "DE",
    "organisations.toml",
    Confidence.LOW,
    parents=(OwnerLink("Amazon.com, Inc.", "US", "organisations.toml https://example.invalid"),),
)
SOVEREIGN = (project_data_dir() / "policies" / "eu-sovereign.toml").read_text()
GDPR = (project_data_dir() / "policies" / "eu-only-gdpr.toml").read_text()


def judge(text: str, controller: Controller | None, **kw: object):  # type: ignore[no-untyped-def]
    endpoint = replace(
        result("s3.eusc-de-east-1.amazonaws.eu", facts(country="DE")), controller=controller, **kw
    )
    return Evaluator(policy(text)).endpoint(endpoint, TODAY)


def test_eu_sovereign_fails_on_the_ultimate_parent_and_names_the_chain() -> None:
    verdict = judge(SOVEREIGN, ESC)
    assert verdict.verdict is Verdict.FAIL
    (reason,) = [r for r in verdict.reasons if r.code == "controller-denied"]
    assert "AWS European Sovereign Cloud GmbH (DE) → Amazon.com, Inc. (US)" in reason.message
    assert "ultimate parent Amazon.com, Inc. under US jurisdiction" in reason.message


def test_own_jurisdiction_passes_the_same_controller() -> None:
    text = SOVEREIGN.replace('jurisdiction = "ultimate-parent"', 'jurisdiction = "own"')
    verdict = judge(text, ESC)
    assert [r.code for r in verdict.reasons if r.code.startswith("controller")] == [
        "controller-allowed"
    ]


def test_sovereign_offering_allow_and_deny() -> None:
    cloud = default_sovereign_clouds().recognise(["s3.eusc-de-east-1.amazonaws.eu"], [])
    allowed = SOVEREIGN + '\n[sovereign]\nallow = ["aws-eusc"]\n'
    verdict = judge(allowed, ESC, sovereign=cloud)
    codes = [r.code for r in verdict.reasons]
    assert "controller-allowed" in codes and "sovereign-allowed" in codes
    denied = SOVEREIGN + '\n[sovereign]\ndeny = ["aws-eusc"]\n'
    verdict = judge(denied, ESC, sovereign=cloud)
    assert verdict.verdict is Verdict.FAIL
    assert any(r.code == "sovereign-denied" for r in verdict.reasons)


def test_unknown_offering_is_a_policy_error() -> None:
    import pytest

    from residency.policy.errors import PolicyError

    with pytest.raises(PolicyError, match="unknown sovereign offering 'aws-gov'"):
        policy(SOVEREIGN + '\n[sovereign]\ndeny = ["aws-gov"]\n')


def test_gdpr_us_recipient_without_dpf_list_says_so() -> None:
    google = Controller("Google LLC", "US", "organisations.toml", Confidence.LOW)
    verdict = judge(GDPR, google)
    assert verdict.verdict is Verdict.INDETERMINATE
    (reason,) = [r for r in verdict.reasons if r.code == "controller-dpf-unknown"]
    assert "DPF participant list is not installed" in reason.message


def test_gdpr_us_recipient_with_dpf_list() -> None:
    names = parse_dpf(b"Organization Name,Status\nGoogle LLC,Active\n", "dpf.csv")
    listed = DpfList(frozenset(name_key(n) for n in names), "2026-12-01")
    google = Controller("Google LLC", "US", "organisations.toml", Confidence.LOW)
    verdict = judge(GDPR, replace(google, dpf=listed.status(google)))
    assert [r.code for r in verdict.reasons if r.code.startswith("controller")] == [
        "controller-dpf-listed"
    ]
    other = Controller("Tiny Tracker Inc", "US", "entity-list x", Confidence.LOW)
    verdict = judge(GDPR, replace(other, dpf=listed.status(other)))
    assert verdict.verdict is Verdict.FAIL
    assert any(r.code == "controller-dpf-not-listed" for r in verdict.reasons)


def test_eea_controller_passes_gdpr() -> None:
    adition = Controller(
        "Adition Technologies AG", "DE", "entity-list webxray 2019-12-18", Confidence.LOW
    )
    verdict = judge(GDPR, adition)
    assert verdict.verdict is Verdict.PASS
