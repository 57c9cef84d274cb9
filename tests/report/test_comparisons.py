"""Per-endpoint comparisons the reports add: several vantages, observed vs re-resolved."""

from __future__ import annotations

from residency.model import (
    Confidence,
    Endpoint,
    EndpointResult,
    IpFacts,
    Location,
    ObservedAddress,
    Outcome,
    Place,
    Resolution,
    ResolvedAddress,
)
from residency.report.common import address_seen, observation_mismatch, vantage_comparison


def facts(ip: str, cc: str) -> IpFacts:
    return IpFacts(ip, True, Location(Place(cc), Confidence.HIGH, "provider-feed"))


def resolution(ip: str, vantage: str | None) -> Resolution:
    return Resolution(
        "app.test", Outcome.RESOLVED, addresses=(ResolvedAddress(ip, 60, "A"),), vantage=vantage
    )


def test_vantages_that_differ_are_compared() -> None:
    result = EndpointResult(
        Endpoint("app.test", "app.test"),
        (resolution("52.66.98.41", "IN"), resolution("3.89.141.20", "US")),
        (facts("52.66.98.41", "IN"), facts("3.89.141.20", "US")),
    )
    assert vantage_comparison(result) == "IN -> 52.66.98.41 (IN); US -> 3.89.141.20 (US)"


def test_same_answer_everywhere_is_not_a_difference() -> None:
    result = EndpointResult(
        Endpoint("app.test", "app.test"),
        (resolution("52.66.98.41", "IN"), resolution("52.66.98.41", "US")),
        (facts("52.66.98.41", "IN"),),
    )
    assert vantage_comparison(result) is None


def test_observed_and_resolved_marked() -> None:
    endpoint = Endpoint("app.test", "app.test", observed=(ObservedAddress("13.228.0.1"),))
    result = EndpointResult(
        endpoint,
        (resolution("52.66.98.41", None),),
        (facts("52.66.98.41", "IN"), facts("13.228.0.1", "SG")),
    )
    assert address_seen("13.228.0.1", result) == "observed"
    assert address_seen("52.66.98.41", result) == "resolved"
    assert observation_mismatch(result) == (
        "observed only: 13.228.0.1; re-resolved only: 52.66.98.41"
    )
