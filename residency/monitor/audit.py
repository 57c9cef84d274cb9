"""The monitor's production audit function: resolve, locate and judge one batch.

``AuditorAudit`` runs each batch through the same ``Auditor`` as ``residency audit``
(hostname hints, operators, optional RDAP), so the monitor itself never depends on how
an audit is made and a monitored check means what an audit means.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from residency.audit.core import Auditor, AuditSettings, Locate, Registrar, Resolver
from residency.model import (
    AuditResult,
    IpFacts,
)
from residency.monitor.base import Batch, MonitorError
from residency.policy.loader import load_policy
from residency.policy.model import Policy
from residency.resolve.engine import ChainResolver, Vantage

LocateMany = Callable[[Sequence[str]], list[IpFacts]]
Clock = Callable[[], float]


def file_version(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1  # load_policy will report the missing file


class VantageLocator(Locate, Protocol):
    """What the monitor needs from the Locator: locating, and a prefix per vantage country."""

    def prefix_for_country(self, country: str) -> str | None: ...


class AuditorAudit:
    """``Batch -> AuditResult`` through the full ``Auditor`` (hostname hints, operators,
    optional RDAP): the production audit function. One Auditor per (policy, vantage)."""

    def __init__(
        self,
        resolver: ChainResolver,
        locator: VantageLocator,
        *,
        registrar: Registrar | None = None,
        policy_loader: Callable[[str], Policy] = load_policy,
    ) -> None:
        self.resolver = resolver
        self.locator = locator
        self.registrar = registrar
        self._load_policy = policy_loader
        self._auditors: dict[tuple[str | None, str | None], tuple[int, Auditor]] = {}

    def _auditor(self, policy_path: str | None, country: str | None) -> Auditor:
        # An edited policy file takes effect at the next batch of a long-running monitor.
        version = file_version(policy_path) if policy_path else 0
        key = (policy_path, country)
        cached = self._auditors.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        vantage: Vantage | None = None
        if country:
            prefix = self.locator.prefix_for_country(country)
            if prefix is None:
                raise MonitorError(f"vantage {country}: no address prefix known in that country")
            vantage = Vantage(country, prefix)
        found = Auditor(
            # ChainResolver takes Vantage where the Auditor's protocol says object.
            cast(Resolver, self.resolver),
            self.locator,
            policy=self._load_policy(policy_path) if policy_path else None,
            registrar=self.registrar,
            vantages=(vantage,),
        )
        self._auditors[key] = (version, found)
        return found

    def __call__(self, batch: Batch) -> AuditResult:
        auditor = self._auditor(batch.policy, batch.vantage)
        settings = AuditSettings(
            resolvers=(self.resolver.label,),
            vantages=(batch.vantage,) if batch.vantage else (),
        )
        return auditor.audit(batch.endpoints, settings=settings)
