"""residency: where an app's endpoints really are, who runs them, and whether that meets policy.

The library API, in one place (``docs/library.md`` shows it in use)::

    import residency

    result = residency.audit_targets(["13.228.0.1"], policy="eu-only-gdpr")
    print(result.verdict, residency.render(result, "markdown"))

Every name below is imported on first use (PEP 562), so ``import residency`` (and the
cold ``residency ip`` that starts with it) loads nothing but this file.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from residency.audit.core import Auditor
    from residency.audit.run import AuditRequest, audit_targets
    from residency.errors import ResidencyError, UsageError
    from residency.locate.locator import Locator
    from residency.model import (
        AddressVerdict,
        AuditResult,
        Confidence,
        Controller,
        DataVersion,
        Endpoint,
        EndpointResult,
        EndpointVerdict,
        Evidence,
        InputProblem,
        IpFacts,
        Location,
        Operator,
        Reason,
        Resolution,
        Verdict,
    )
    from residency.policy import Policy, PolicyError, load_policy
    from residency.report import OutputFormat, RenderOptions, render
    from residency.store import Store, StoreError, open_store

#: Public name -> the module that defines it (each thing is defined once, there).
_WHERE = {
    # audit
    "Auditor": "residency.audit.core",
    "AuditRequest": "residency.audit.run",
    "audit_targets": "residency.audit.run",
    # location
    "Locator": "residency.locate.locator",
    # policy
    "Policy": "residency.policy",
    "PolicyError": "residency.policy",
    "load_policy": "residency.policy",
    # reports
    "OutputFormat": "residency.report",
    "RenderOptions": "residency.report",
    "render": "residency.report",
    # history
    "Store": "residency.store",
    "StoreError": "residency.store",
    "open_store": "residency.store",
    # errors
    "ResidencyError": "residency.errors",
    "UsageError": "residency.errors",
    # result types
    "AddressVerdict": "residency.model",
    "AuditResult": "residency.model",
    "Confidence": "residency.model",
    "Controller": "residency.model",
    "DataVersion": "residency.model",
    "Endpoint": "residency.model",
    "EndpointResult": "residency.model",
    "EndpointVerdict": "residency.model",
    "Evidence": "residency.model",
    "InputProblem": "residency.model",
    "IpFacts": "residency.model",
    "Location": "residency.model",
    "Operator": "residency.model",
    "Reason": "residency.model",
    "Resolution": "residency.model",
    "Verdict": "residency.model",
}

if not TYPE_CHECKING:  # mypy reads the imports above; at run time names load on first use

    def __getattr__(name: str) -> object:
        where = _WHERE.get(name)
        if where is None:
            raise AttributeError(f"module 'residency' has no attribute {name!r}")
        value = getattr(import_module(where), name)
        globals()[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted([*globals(), *_WHERE])


__all__ = [
    "AddressVerdict",
    "AuditRequest",
    "AuditResult",
    "Auditor",
    "Confidence",
    "Controller",
    "DataVersion",
    "Endpoint",
    "EndpointResult",
    "EndpointVerdict",
    "Evidence",
    "InputProblem",
    "IpFacts",
    "Location",
    "Locator",
    "Operator",
    "OutputFormat",
    "Policy",
    "PolicyError",
    "Reason",
    "RenderOptions",
    "ResidencyError",
    "Resolution",
    "Store",
    "StoreError",
    "UsageError",
    "Verdict",
    "__version__",
    "audit_targets",
    "load_policy",
    "open_store",
    "render",
]
