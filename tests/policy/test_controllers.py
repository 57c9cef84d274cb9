"""[controllers] allow/deny, unknown_controller and the first-party [controllers.known] table."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from residency.model import Confidence, Controller, Verdict
from residency.policy import Evaluator
from residency.policy.errors import PolicyError
from tests.policy.factories import facts, policy, result

TODAY = date(2026, 1, 1)

DEFENCE = """
name = "defence"
[countries]
allow = ["IN"]
[controllers]
allow = ["IN"]
deny = ["CN"]
[controllers.known]
"example.in" = { entity = "Example India Pvt Ltd", country = "IN" }
"""

XIAOMI = Controller(
    "Beijing Xiaomi Mobile Software Co., Ltd.", "CN", "OV certificate", Confidence.MEDIUM
)


def judge(text: str, controller: Controller | None, country: str = "IN"):  # type: ignore[no-untyped-def]
    endpoint = replace(
        result("api.account.xiaomi.com", facts(country=country)), controller=controller
    )
    return Evaluator(policy(text)).endpoint(endpoint, TODAY)


def test_denied_controller_fails_and_names_the_side() -> None:
    verdict = judge(DEFENCE, XIAOMI)
    assert verdict.verdict is Verdict.FAIL
    (reason,) = [r for r in verdict.reasons if r.code == "controller-denied"]
    assert reason.message.startswith("[controller] controlled by Beijing Xiaomi")
    assert "controllers.deny = [CN]" in reason.message


def test_location_and_controller_both_named() -> None:
    verdict = judge(DEFENCE, XIAOMI, country="SG")
    assert verdict.verdict is Verdict.FAIL
    assert verdict.addresses[0].aspect == "location"
    assert any(r.code == "controller-denied" for r in verdict.reasons)


def test_not_allowed_and_allowed() -> None:
    other = Controller("Acme", "US", "EV certificate", Confidence.HIGH)
    assert judge(DEFENCE, other).verdict is Verdict.FAIL
    local = Controller("Example India Pvt Ltd", "IN", "first-party table", Confidence.MEDIUM)
    assert judge(DEFENCE, local).verdict is Verdict.PASS


def test_unknown_controller_is_indeterminate_by_default_and_configurable() -> None:
    unknown = Controller(
        None, None, "none", Confidence.NONE, "DV certificate: names no organisation"
    )
    verdict = judge(DEFENCE, unknown)
    assert verdict.verdict is Verdict.INDETERMINATE
    assert "DV certificate" in verdict.reasons[0].message
    assert judge(DEFENCE, None).verdict is Verdict.INDETERMINATE
    failing = DEFENCE.replace('name = "defence"', 'name = "defence"\nunknown_controller = "fail"')
    assert judge(failing, None).verdict is Verdict.FAIL


def test_no_controllers_section_ignores_controller() -> None:
    assert judge('name = "x"\n[countries]\nallow = ["IN"]\n', XIAOMI).verdict is Verdict.PASS


def test_known_table_loaded() -> None:
    loaded = policy(DEFENCE)
    assert loaded.controller_table == {"example.in": ("Example India Pvt Ltd", "IN")}


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        ('name = "x"\n[controllers]\nallow = ["XX1"]\n', "XX1"),
        ('name = "x"\n[controllers.known]\n"a.com" = "Acme"\n', "entity"),
        ('name = "x"\n[controllers.known]\n"a.com" = { country = "GB" }\n', "entity"),
    ],
)
def test_bad_controllers_section(text: str, mention: str) -> None:
    with pytest.raises(PolicyError, match=mention):
        policy(text)
