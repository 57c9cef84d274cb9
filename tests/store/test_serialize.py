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


def test_canonical_plain_writes_the_same_text_as_canonical() -> None:
    """Stored state fingerprints keep matching: orjson's text equals the json module's
    for every code point (escapes, non-ASCII, astral), in keys and values, and for ints,
    booleans, None and enums; what orjson refuses falls back."""
    import enum

    from residency.store.serialize import canonical, canonical_plain

    class Kind(enum.StrEnum):
        A = "a"

    chars = "".join(chr(c) for c in range(0x3_0000) if not 0xD800 <= c <= 0xDFFF)
    for start in range(0, len(chars), 4096):
        piece = chars[start : start + 4096]
        value = {piece: [piece, 0, -(2**63), 2**63 - 1, True, None, Kind.A], "z": {"a": []}}
        assert canonical_plain(value) == canonical(value)
    for refused in (["\ud800"], [2**70]):
        assert canonical_plain(refused) == canonical(refused)


def test_state_fingerprints_of_existing_stores_do_not_move() -> None:
    """A state recorded by an earlier version must give the same fingerprint now."""
    from residency.store.serialize import canonical_plain, digest, endpoint_state
    from tests.store.builders import Addr, Host, endpoint_result

    result = endpoint_result(Host("a.example", (Addr("192.0.2.1", "DE"),)), "2026-01-01T00:00:00")
    text = canonical_plain(endpoint_state(result))
    assert text == json.dumps(
        endpoint_state(result), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    # Pinned: the fingerprint the json-module version of the store gave this state.
    assert digest(text) == "e397e2ac8b6966858043d79637332342"
