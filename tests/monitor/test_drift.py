"""Drift between two endpoint states, without a database."""

from __future__ import annotations

from typing import Any

from residency.drift import DriftKind, compare, describe_location


def state(
    *addresses: dict[str, Any],
    cname: str = "",
    outcome: str = "resolved",
    verdict: int | None = None,
) -> dict[str, Any]:
    chain = [["a.example", "CNAME", cname]] if cname else []
    return {
        "resolutions": [
            {
                "name": "a.example",
                "outcome": outcome,
                "resolver": "r",
                "vantage": None,
                "ecs_prefix": None,
                "chain": chain,
                "addresses": [],
            }
        ],
        "addresses": list(addresses),
        "verdict": verdict,
    }


def addr(ip: str, **kw: Any) -> dict[str, Any]:
    base = {
        "ip": ip,
        "country": "DE",
        "subdivision": None,
        "city": None,
        "provider": "aws",
        "region": "eu-central-1",
        "asn": 16509,
        "anycast": False,
        "routable": True,
    }
    base.update(kw)
    return base


def test_first_state_has_no_events() -> None:
    assert compare(None, state(addr("192.0.2.1")), data_changed=False) == []


def test_unchanged_state_has_no_events() -> None:
    same = state(addr("192.0.2.1"), cname="x.cdn.test", verdict=0)
    assert compare(same, same, data_changed=True) == []


def test_city_and_anycast_changes_are_place_changes() -> None:
    before = state(addr("192.0.2.1", city="Frankfurt"))
    after = state(addr("192.0.2.1", city="Berlin", anycast=True))
    (change,) = compare(before, after, data_changed=False)
    assert change.kind is DriftKind.PLACE_CHANGED and "anycast" in (change.after or "")


def test_unknown_country_is_named() -> None:
    before = state(addr("192.0.2.1"))
    after = state(addr("192.0.2.1", country=None, provider=None, region=None, asn=None))
    kinds = {c.kind: c for c in compare(before, after, data_changed=False)}
    assert kinds[DriftKind.COUNTRY_CHANGED].detail == "address 192.0.2.1 country DE -> unknown"
    assert kinds[DriftKind.ASN_CHANGED].before == "AS16509"


def test_data_update_gives_one_event_per_address() -> None:
    before = state(addr("192.0.2.1"), addr("192.0.2.2"))
    after = state(addr("192.0.2.1", country="IE", region="eu-west-1"), addr("192.0.2.2"))
    (change,) = compare(before, after, data_changed=True)
    assert change.kind is DriftKind.MOVED_BY_DATA_UPDATE and change.ip == "192.0.2.1"


def test_cname_added_and_outcome_changed() -> None:
    kinds = [c.kind for c in compare(state(), state(cname="edge.test"), data_changed=False)]
    assert kinds == [DriftKind.CNAME_CHANGED]
    kinds = [c.kind for c in compare(state(), state(outcome="nxdomain"), data_changed=False)]
    assert kinds == [DriftKind.OUTCOME_CHANGED]


def test_describe_location() -> None:
    assert (
        describe_location(addr("x", subdivision="DE-HE")) == "DE/DE-HE (aws, eu-central-1, AS16509)"
    )
    assert describe_location({"country": None}) == "unknown country"
