"""A clock you move by hand and an audit function over a world you edit."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from residency.model import AuditResult
from residency.monitor.base import Batch
from tests.store.builders import Host, audit_result


@dataclass
class FakeClock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeAudit:
    """Answers from ``world`` (host -> Host); records every host it was asked about."""

    clock: FakeClock
    world: dict[str, Host] = field(default_factory=dict)
    data_version: str = "v1"
    calls: list[str] = field(default_factory=list)
    fail_hosts: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __call__(self, batch: Batch) -> AuditResult:
        hosts = [e.host for e in batch.endpoints]
        if self.fail_hosts & set(hosts):
            raise RuntimeError("resolver exploded")
        self.calls.extend(hosts)
        answers = [self.world.get(h, Host(h)) for h in hosts]
        return audit_result(
            f"fake-{next(self._ids)}-{self.clock.now}",
            self.clock.now,
            answers,
            data_version=self.data_version,
            vantages=[batch.vantage] if batch.vantage else [],
            policy=any(a.verdict is not None for a in answers),
        )
