"""The monitor's production audit function: resolve, locate and judge one batch.

``AuditorAudit`` audits each batch with an Auditor built by ``audit/assemble.py``, the
one assembly ``residency audit`` uses: the same resolver (DoH/DoT), vantages, RDAP,
probes and control evidence, so a monitored check means what an audit means and a
change of controller or certificate is seen like a change of place.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from residency.audit.assemble import Assembly
from residency.audit.core import AuditError, Auditor, AuditSettings
from residency.model import AuditResult
from residency.monitor.base import Batch, MonitorError
from residency.policy.loader import load_policy
from residency.policy.model import Policy


def file_version(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1  # load_policy will report the missing file


class AuditorAudit:
    """``Batch -> AuditResult`` through the Auditors of one ``Assembly``: one per
    (policy, vantage), rebuilt when the policy file changes."""

    def __init__(
        self, parts: Assembly, *, policy_loader: Callable[[str], Policy] = load_policy
    ) -> None:
        self.parts = parts
        self._load_policy = policy_loader
        self._auditors: dict[tuple[str | None, str | None], tuple[int, Auditor]] = {}

    def _auditor(self, policy_path: str | None, country: str | None) -> Auditor:
        # An edited policy file takes effect at the next batch of a long-running monitor.
        version = file_version(policy_path) if policy_path else 0
        key = (policy_path, country)
        cached = self._auditors.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        policy = self._load_policy(policy_path) if policy_path else None
        try:
            found = self.parts.auditor_for(policy, (country,) if country else ())
        except AuditError as err:
            raise MonitorError(
                f"vantage {country}: no address prefix known in that country"
            ) from err
        self._auditors[key] = (version, found)
        return found

    def __call__(self, batch: Batch) -> AuditResult:
        auditor = self._auditor(batch.policy, batch.vantage)
        resolver = self.parts.resolver
        settings = AuditSettings(
            resolvers=(resolver.label,) if resolver is not None else (),
            vantages=(batch.vantage,) if batch.vantage else (),
        )
        return auditor.audit(batch.endpoints, settings=settings)
