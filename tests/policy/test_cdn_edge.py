"""``cdn = "edge"``: a CDN address judged by the edge an http probe saw, not INDETERMINATE."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from residency.model import Place, ProbeResult, Verdict
from residency.policy import Evaluator, PolicyInvalid
from tests.policy.factories import facts, policy, result

TODAY = date(2026, 1, 1)
WHEN = "2026-12-02T01:00:00+00:00"

EDGE = """
name = "edge"
cdn = "edge"
[countries]
allow = ["IN"]
"""


def http(ip: str, pop: str | None, place: Place | None, outcome: str = "ok") -> ProbeResult:
    return ProbeResult(
        "http",
        ip,
        443,
        outcome,
        f"cf-ray 8c1f-{pop}" if outcome == "ok" else "connection refused",
        WHEN,
        "local",
        status=200 if outcome == "ok" else None,
        edge_cdn="cloudflare" if outcome == "ok" else None,
        edge_pop=pop,
        edge_place=place,
        edge_basis="IATA airport code (airportsdata)" if place else "",
    )


def judge(text: str, *probes: ProbeResult, anycast: bool = True):  # type: ignore[no-untyped-def]
    address = facts("104.16.132.229", None, provider="cloudflare", cdn=True, anycast=anycast)
    endpoint = replace(result("checkout.example.in", address), probes=probes)
    return Evaluator(policy(text)).endpoint(endpoint, TODAY)


def test_edge_seen_in_an_allowed_country_passes() -> None:
    verdict = judge(EDGE, http("104.16.132.229", "BOM", Place("IN", city="Mumbai")))
    assert verdict.verdict is Verdict.PASS
    (reason,) = verdict.addresses[0].reasons
    assert reason.code == "country-allowed"
    assert "judged by the edge seen from this vantage (local) at " + WHEN in reason.message
    assert "cloudflare BOM, Mumbai, IN" in reason.message
    assert "the origin is unknown" in reason.message


def test_edge_seen_elsewhere_fails_and_names_it() -> None:
    verdict = judge(EDGE, http("104.16.132.229", "SIN", Place("SG", city="Singapore")))
    assert verdict.verdict is Verdict.FAIL
    (reason,) = verdict.addresses[0].reasons
    assert reason.code == "country-not-allowed" and "SG not in countries.allow" in reason.message


def test_a_plain_cdn_address_uses_the_endpoint_edge_seen_at_another_address() -> None:
    # not anycast: "cdn" itself (no anycast inheritance involved); probe hit a sibling address
    verdict = judge(EDGE, http("104.16.133.229", "BOM", Place("IN")), anycast=False)
    assert verdict.verdict is Verdict.PASS
    assert "probing 104.16.133.229 of the same answer" in verdict.addresses[0].reasons[0].message


@pytest.mark.parametrize(
    ("probes", "why"),
    [
        ((), "no http probe ran: audit with --probe http"),
        ((http("104.16.132.229", None, None, outcome="refused"),), "http probe refused"),
        ((http("104.16.132.229", "XQZ", None),), "XQZ names no known place"),
    ],
)
def test_without_an_edge_seen_it_stays_indeterminate_with_the_reason(
    probes: tuple[ProbeResult, ...], why: str
) -> None:
    verdict = judge(EDGE, *probes)
    assert verdict.verdict is Verdict.INDETERMINATE
    (reason,) = verdict.addresses[0].reasons
    assert reason.code == "cdn-edge-unseen" and why in reason.message
    assert "cdn = edge" in reason.message or "anycast = edge" in reason.message


def test_without_edge_a_cdn_stays_indeterminate_as_before() -> None:
    text = EDGE.replace('cdn = "edge"\n', "")
    verdict = judge(text, http("104.16.132.229", "BOM", Place("IN")))
    assert verdict.verdict is Verdict.INDETERMINATE
    assert verdict.addresses[0].reasons[0].code == "anycast"


def test_edge_is_only_for_cdn_and_anycast() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        policy('name = "x"\nunknown_location = "edge"\n')
    assert "unknown_location must be one of allow, warn, fail, indeterminate" in str(
        caught.value.problems[0]
    )
    assert policy('name = "x"\nanycast = "edge"\n').base.anycast is not None
