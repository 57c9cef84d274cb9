"""The monitor's spool: audit results and completions rebuilt from their JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, NamedTuple

import pytest

from residency.model import AuditResult, Place, Verdict
from residency.store import Completion
from residency.store.serialize import canonical, from_jsonable, to_jsonable
from tests.store.builders import Addr, Host, audit_result


def _through_json(value: object) -> Any:
    return json.loads(json.dumps(to_jsonable(value)))


def test_an_audit_result_survives_the_spool() -> None:
    original = audit_result(
        "r1",
        1000,
        [
            Host("api.example.com", (Addr("192.0.2.1"), Addr("2001:db8::1", country=None))),
            Host(
                "pay.example.com",
                (Addr("192.0.2.9"),),
                cname=("edge.example.net",),
                verdict=Verdict.FAIL,
            ),
        ],
        vantages=("DE",),
        policy=True,
    )
    rebuilt = from_jsonable(AuditResult, _through_json(original))
    assert rebuilt == original
    verdict = rebuilt.endpoints[1].verdict
    assert verdict is not None and type(verdict.verdict) is Verdict
    assert type(rebuilt.endpoints) is tuple


class _Pair(NamedTuple):
    a: int
    b: tuple[str, ...]


def test_to_jsonable_is_asdict_without_the_copies() -> None:
    """The fast path must give the very JSON asdict gives: fingerprints and facts shas
    recorded before it must still match."""
    result = audit_result(
        "r1",
        1000,
        [
            Host("api.example.com", (Addr("192.0.2.1"), Addr("2001:db8::1", country=None))),
            Host(
                "pay.example.com",
                (Addr("192.0.2.9"),),
                cname=("e.example.net",),
                verdict=Verdict.FAIL,
            ),
        ],
        vantages=("DE", None),
        policy=True,
    )
    assert to_jsonable(result) == asdict(result)
    assert canonical(to_jsonable(result)) == canonical(asdict(result))
    for facts in result.endpoints[0].facts:
        assert canonical(to_jsonable(facts)) == canonical(asdict(facts))
    assert to_jsonable({"k": [_Pair(1, ("x",))]}) == {"k": [_Pair(1, ("x",))]}
    assert to_jsonable(Place("DE")) == asdict(Place("DE"))


def test_a_completion_survives_the_spool() -> None:
    original = Completion(7, 1200.5, 1000.0, None)
    assert from_jsonable(Completion, _through_json(original)) == original


def test_missing_optional_fields_take_their_defaults_and_unknown_keys_are_ignored() -> None:
    assert from_jsonable(Place, {"country": "DE", "later": 1}) == Place("DE")


@pytest.mark.parametrize(
    ("cls", "data"),
    [
        (Place, {}),  # a required field is missing
        (Completion, {"target_id": "x", "next_due": 1, "checked_at": 1, "run_id": None}),
        (AuditResult, "not an object"),
        (
            AuditResult,
            {"run_id": "r", "started": "s", "finished": "f", "endpoints": [], "verdict": 9},
        ),
    ],
)
def test_data_of_another_shape_raises_what_the_monitor_catches(cls: type, data: Any) -> None:
    # monitor._load_spool turns exactly these into "spool file unreadable".
    with pytest.raises((KeyError, ValueError, TypeError)):
        from_jsonable(cls, data)
