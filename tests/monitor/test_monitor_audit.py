"""The monitor's resolve-locate-judge audit function, with a stand-in resolver."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from residency.model import (
    ChainStep,
    DataVersion,
    Endpoint,
    IpFacts,
    Outcome,
    Resolution,
    ResolvedAddress,
)
from residency.monitor.base import Batch, MonitorError
from residency.resolve.engine import Vantage
from tests.monitor.resolve_locate import ResolveLocateAudit
from tests.store.builders import Addr, facts_for


class StandInResolver:
    label = "stand-in"

    def __init__(self) -> None:
        self.asked: list[tuple[str, Vantage | None]] = []

    def resolve_many(
        self, names: Iterable[str], vantages: Sequence[Vantage | None] = (None,)
    ) -> Iterator[tuple[str, tuple[Resolution, ...]]]:
        for name in names:
            self.asked.append((name, vantages[0]))
            ip = "192.0.2.1" if name.startswith("a.") else "192.0.2.2"
            yield (
                name,
                (
                    Resolution(
                        name,
                        Outcome.RESOLVED,
                        (ChainStep(name, "A", ip, 60),),
                        (ResolvedAddress(ip, 60, "A"),),
                        resolver=self.label,
                    ),
                ),
            )


def locate(ips: Sequence[str]) -> list[IpFacts]:
    return [facts_for(Addr(ip)) for ip in ips]


def make(resolver: StandInResolver, **kw: object) -> ResolveLocateAudit:
    return ResolveLocateAudit(
        resolver,  # type: ignore[arg-type]
        locate,
        (DataVersion("test", "1"),),
        clock=lambda: 1_700_000_000.0,
        **kw,  # type: ignore[arg-type]
    )


def test_names_are_resolved_and_literals_kept() -> None:
    resolver = StandInResolver()
    batch = Batch(
        (
            Endpoint("a.example", "a.example"),
            Endpoint("b.example", "b.example"),
            Endpoint("198.51.100.4", "198.51.100.4", is_ip=True),
        ),
        policy=None,
        vantage=None,
    )
    result = make(resolver)(batch)
    assert [name for name, _ in resolver.asked] == ["a.example", "b.example"]
    by_host = {r.endpoint.host: r for r in result.endpoints}
    assert by_host["a.example"].addresses == ("192.0.2.1",)
    literal = by_host["198.51.100.4"]
    assert literal.resolutions[0].outcome is Outcome.LITERAL and literal.addresses == (
        "198.51.100.4",
    )
    assert result.started.startswith("2023-11-14T22:13:20")
    assert result.data_versions == (DataVersion("test", "1"),) and result.verdict is None
    assert result.run_id.startswith("m-")


def test_vantage_needs_a_prefix() -> None:
    resolver = StandInResolver()
    batch = Batch((Endpoint("a.example", "a.example"),), policy=None, vantage="DE")
    with pytest.raises(MonitorError):
        make(resolver)(batch)
    make(resolver, prefix_for_country=lambda cc: "5.9.0.0/24")(batch)
    assert resolver.asked[-1][1] == Vantage("DE", "5.9.0.0/24")


def test_an_edited_policy_is_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("v1")
    loads: list[str] = []

    def loader(p: str) -> object:
        loads.append(Path(p).read_text())
        return object()

    audit = make(StandInResolver(), policy_loader=loader)
    assert audit._policy(str(path)) is audit._policy(str(path))
    path.write_text("v2")
    os.utime(path, ns=(1, 10**18))  # a different modification time, whatever the clock
    audit._policy(str(path))
    assert loads == ["v1", "v2"]
