"""Canonical JSON of model objects, and the fingerprints that decide "changed or not"."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import Any, TypeVar

import cattrs
import orjson

from residency.drift import control_record
from residency.model import DataVersion, EndpointResult, IpFacts
from residency.timefmt import parse_iso, utc_iso

T = TypeVar("T")


def canonical(value: Any) -> str:
    """Stable JSON: sorted keys, no spaces, so equal content gives equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_plain(value: Any) -> str:
    """``canonical(value)`` for values made only of str, int, bool, None, lists and
    str-keyed dicts (no floats, whose exponent form orjson writes differently), at C
    speed: byte for byte the same text, so stored fingerprints keep matching. Anything
    orjson refuses (a lone surrogate, an int beyond 64 bits) takes ``canonical``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except (TypeError, UnicodeDecodeError, orjson.JSONEncodeError):
        return canonical(value)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


#: Field names per dataclass type, read once (``dataclasses.fields`` is slow per call).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def to_jsonable(obj: Any) -> Any:
    """A dataclass tree as plain JSON values, the same as ``dataclasses.asdict`` gives
    (enums stay enums, which JSON writes as their values), without its deep copies: this
    runs for every address of every check recorded."""
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if is_dataclass(cls):
            names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
        elif cls is tuple or cls is list:
            return cls(to_jsonable(v) for v in obj)
        elif cls is dict:
            return {to_jsonable(k): to_jsonable(v) for k, v in obj.items()}
        elif isinstance(obj, list | tuple | dict):  # a subclass (a named tuple): as asdict does
            return asdict(_Wrap(obj))["value"]
        else:
            return obj
    return {name: to_jsonable(getattr(obj, name)) for name in names}


@dataclass(frozen=True)
class _Wrap:
    value: Any


def data_fingerprint(versions: tuple[DataVersion, ...]) -> str:
    """Identifies the dataset versions an answer was computed from."""
    return digest(canonical(sorted([v.dataset, v.version] for v in versions)))


def location_summary(facts: IpFacts) -> dict[str, Any]:
    """The parts of an address's facts whose change is drift (not confidence or prose)."""
    place = facts.location.place
    return {
        "country": place.country if place else None,
        "subdivision": place.subdivision if place else None,
        "city": place.city if place else None,
        "provider": facts.provider,
        "region": facts.region,
        "asn": facts.asn,
        "anycast": facts.anycast,
        "routable": facts.routable,
    }


def parse_time(text: str | None) -> float | None:
    """ISO-8601 to epoch seconds (naive times are taken as UTC)."""
    if not text:
        return None
    try:
        return parse_iso(text).timestamp()
    except ValueError:
        return None


def iso(ts: float) -> str:
    return utc_iso(ts)


def endpoint_state(result: EndpointResult, ran: tuple[str, ...] = ()) -> dict[str, Any]:
    """What an endpoint looked like in one check, without volatile parts (TTLs, times,
    error prose, reason wording), so that an unchanged endpoint gives the same state.
    ``ran``: the evidence the whole run ran (``drift.run_evidence``)."""
    resolutions = sorted(
        (
            {
                "name": r.name,
                "outcome": r.outcome.value,
                "resolver": r.resolver,
                "vantage": r.vantage,
                "ecs_prefix": r.ecs_prefix,
                "chain": [[s.owner, s.rtype, s.target] for s in r.chain if s.rtype == "CNAME"],
                "addresses": sorted([a.ip, a.via] for a in r.addresses),
            }
            for r in result.resolutions
        ),
        key=lambda r: (str(r["resolver"]), str(r["vantage"]), str(r["name"])),
    )
    addresses = sorted(
        ({"ip": f.ip, **location_summary(f)} for f in result.facts), key=lambda a: str(a["ip"])
    )
    verdict = result.verdict
    control, evidence = control_record(result, ran)
    return {
        "resolutions": resolutions,
        "addresses": addresses,
        # Only when something about control was observed: states of endpoints without
        # control evidence stay as they were before control was tracked.
        **({"control": control} if control else {}),
        # What ran and what gave each field, when the run tracked control (drift.py)
        **({"control_evidence": evidence} if evidence else {}),
        "verdict": int(verdict.verdict) if verdict else None,
        "reasons": (
            [list(p) for p in sorted({(r.code, r.rule or "") for r in verdict.reasons})]
            if verdict
            else []
        ),
        "address_verdicts": (
            sorted([a.ip, int(a.verdict)] for a in verdict.addresses) if verdict else []
        ),
    }


#: Builds model dataclasses from JSON values. Its structuring functions are generated
#: once per class (27x faster than walking type hints per object, see bench/serialize.py).
#: Without detailed validation, bad data raises plain KeyError/ValueError/TypeError.
_CONVERTER = cattrs.Converter(detailed_validation=False)


def from_jsonable(cls: type[T], data: Any) -> T:
    """Rebuild a model dataclass from ``to_jsonable`` output (for the monitor's spool).

    Raises ``KeyError``, ``ValueError`` or ``TypeError`` for data of another shape."""
    return _CONVERTER.structure(data, cls)
