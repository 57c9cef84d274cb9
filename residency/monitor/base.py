"""What the monitor's parts share: its errors and the batch handed to an audit function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from residency.errors import ResidencyError
from residency.model import AuditResult, Endpoint


class MonitorError(ResidencyError):
    """Monitoring cannot start as configured."""


class TargetFileInvalid(MonitorError):
    """A watch-target file has a bad entry (the message names file and line)."""


@dataclass(frozen=True)
class Batch:
    """Endpoints to audit together: they share a policy and a vantage."""

    endpoints: tuple[Endpoint, ...]
    policy: str | None
    vantage: str | None


#: Production: the Auditor; tests: a fake. Must give each call a fresh ``run_id``.
AuditFunction = Callable[[Batch], AuditResult]
