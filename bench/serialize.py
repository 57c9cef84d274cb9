"""Benchmark: rebuilding spooled audit results from JSON (``from_jsonable``).

The monitor spools batches it cannot commit as JSON and rebuilds them with
``residency.store.serialize.from_jsonable``. Prints, side by side and measured in
the same run on the same data, the rebuild rate (results per second) of:
- ``walker``: the hand-written type-hint walker the project used before (kept here,
  verbatim, as the baseline);
- ``cattrs``: a ``cattrs.Converter`` (what ``from_jsonable`` uses now);
- ``dacite``: ``dacite.from_dict`` with tuple and enum casts;
- ``current``: ``from_jsonable`` itself, whichever it is.
Each rebuilt result is checked equal to the original before timing.

    .venv/bin/python bench/serialize.py [--results 60] [--endpoints 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from enum import Enum
from types import UnionType
from typing import Any, TypeVar, Union, cast, get_args, get_origin, get_type_hints

import cattrs

try:  # only for the comparison row; not a dependency of the project
    import dacite
except ImportError:  # pragma: no cover
    dacite = None

from residency.model import (
    AddressVerdict,
    AuditResult,
    ChainStep,
    Confidence,
    DataVersion,
    Endpoint,
    EndpointResult,
    EndpointVerdict,
    Evidence,
    EvidenceKind,
    IpFacts,
    Location,
    Operator,
    Outcome,
    Place,
    PolicyRef,
    Reason,
    Registration,
    Resolution,
    ResolvedAddress,
    Verdict,
)
from residency.store.serialize import from_jsonable, to_jsonable

T = TypeVar("T")


# ----------------------------------------------------- baseline: the old walker, verbatim


def walker_from_jsonable(cls: type[T], data: Any) -> T:
    return cast(T, _decode(cls, data))


def _decode(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = get_origin(tp)
    if origin in (Union, UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        return _decode(options[0], data) if len(options) == 1 else data
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], item) for item in data)
        return tuple(_decode(a, item) for a, item in zip(args, data, strict=True))
    if isinstance(tp, type) and is_dataclass(tp):
        hints = get_type_hints(tp)
        kwargs = {
            f.name: _decode(hints[f.name], data[f.name]) for f in fields(tp) if f.name in data
        }
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(data)
    return data


# ------------------------------------------------------------------------- contenders

_CATTRS = cattrs.Converter(detailed_validation=False)
_DACITE = dacite.Config(cast=[tuple, Enum]) if dacite else None


def cattrs_from_jsonable(cls: type[T], data: Any) -> T:
    return _CATTRS.structure(data, cls)


def dacite_from_jsonable(cls: type[T], data: Any) -> T:
    return dacite.from_dict(cls, data, config=_DACITE)


# ----------------------------------------------------------------------------- data


def make_result(index: int, endpoints: int, rng: random.Random) -> AuditResult:
    """An audit result with every nested kind the model has (evidence, operators,
    registrations, verdicts, chains), shaped like a monitor batch."""
    out = []
    for e in range(endpoints):
        host = f"api{e}.r{index}.example"
        ips = [f"192.0.{rng.randrange(256)}.{rng.randrange(256)}" for _ in range(3)]
        facts = tuple(
            IpFacts(
                ip=ip,
                routable=True,
                location=Location(
                    Place("DE", "DE-HE", "Frankfurt"), Confidence.HIGH, "provider-feed", "feed"
                ),
                asn=16509,
                as_org="AMAZON-02",
                provider="aws",
                region="eu-central-1",
                service="EC2",
                evidence=(
                    Evidence(
                        "aws-ip-ranges",
                        EvidenceKind.PROVIDER_FEED,
                        "2026-01-01",
                        prefix="192.0.0.0/16",
                        place=Place("DE"),
                        provider="aws",
                        region="eu-central-1",
                    ),
                    Evidence(
                        "geoip:dbip-country", EvidenceKind.GEOIP, "2026-01", place=Place("DE")
                    ),
                ),
                disagreements=("dbip says DE, feed says DE",),
                operator=Operator("aws", "Amazon Web Services, Inc.", "US", basis="asn AS16509"),
                registration=Registration("known", org="Amazon", country="US", rir="RIPE"),
            )
            for ip in ips
        )
        out.append(
            EndpointResult(
                endpoint=Endpoint(host, host, origin="targets.txt:1", categories=("payments",)),
                resolutions=(
                    Resolution(
                        host,
                        Outcome.RESOLVED,
                        chain=(ChainStep(host, "CNAME", f"edge.{host}", 300),),
                        addresses=tuple(ResolvedAddress(ip, 60, "A") for ip in ips),
                        vantage="DE",
                        ecs_prefix="49.36.0.0/24",
                    ),
                ),
                facts=facts,
                verdict=EndpointVerdict(
                    Verdict.PASS,
                    tuple(
                        AddressVerdict(ip, Verdict.PASS, (Reason("allowed", "DE is allowed"),))
                        for ip in ips
                    ),
                ),
            )
        )
    return AuditResult(
        run_id=f"run-{index}",
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:00:05Z",
        endpoints=tuple(out),
        data_versions=(DataVersion("aws-ip-ranges", "2026-01-01"),),
        resolvers=("system",),
        vantages=("DE",),
        policy=PolicyRef("eu-only", "1"),
        verdict=Verdict.PASS,
        tool_version="bench",
    )


# ---------------------------------------------------------------------------- timing


def rate(
    decode: Callable[[type[AuditResult], Any], AuditResult], data: list[Any], repeat: int
) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for item in data:
            decode(AuditResult, item)
        best = min(best, time.perf_counter() - t0)
    return len(data) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=int, default=60)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(7)
    originals = [make_result(i, args.endpoints, rng) for i in range(args.results)]
    # What the spool holds: the JSON text read back, as the monitor does.
    data = [json.loads(json.dumps(to_jsonable(r))) for r in originals]
    contenders = {
        "walker": walker_from_jsonable,
        "cattrs": cattrs_from_jsonable,
        "dacite": dacite_from_jsonable,
        "current": from_jsonable,
    }
    if dacite is None:
        print("dacite not installed: its row is left out")
        del contenders["dacite"]
    for name, decode in contenders.items():
        rebuilt = [decode(AuditResult, item) for item in data]
        if rebuilt != originals:
            raise SystemExit(f"{name}: rebuilt results differ from the originals")
    addresses = args.endpoints * 3
    print(
        f"{args.results} results x {args.endpoints} endpoints x 3 addresses, best of {args.repeat}"
    )
    base = None
    for name, decode in contenders.items():
        per_s = rate(decode, data, args.repeat)
        base = base or per_s
        print(
            f"  {name:8s} {per_s:10.1f} results/s  {per_s * addresses:12.0f} addresses/s"
            f"  x{per_s / base:5.2f} vs walker"
        )


if __name__ == "__main__":
    main()
