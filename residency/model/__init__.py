"""Frozen result types shared by every stage of the pipeline.

Data flows one way: Endpoint -> Resolution -> IpFacts (with Evidence) -> Verdict
-> AuditResult. Every stage imports this package; it imports nothing else from
residency. "Unknown" is modelled explicitly (a value with a reason), never as a bare
``None`` that a reader could mistake for "checked, nothing".

Each type is defined once, in the submodule of its stage (``facts``, ``endpoints``,
``resolution``, ``probes``, ``audit``), and is imported from here as before:
``from residency.model import IpFacts``. A name is loaded on first use (PEP 562), so
``residency ip`` builds only the facts types: each frozen dataclass costs about 0.8 ms
to create, and the 16 an audit needs besides would be a tenth of a cold lookup.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from residency.model.audit import (
        AddressVerdict,
        AuditResult,
        EndpointGroup,
        EndpointResult,
        EndpointVerdict,
        PolicyRef,
        Reason,
        Verdict,
    )
    from residency.model.endpoints import (
        Endpoint,
        InputProblem,
        ObservedAddress,
    )
    from residency.model.facts import (
        BULK_COLUMNS,
        WITHHELD_BASIS,
        CdnEdge,
        Confidence,
        DataVersion,
        Evidence,
        EvidenceKind,
        IpFacts,
        Location,
        Operator,
        OwnerLink,
        Place,
        Registration,
    )
    from residency.model.probes import (
        CertInfo,
        Controller,
        ProbeResult,
        Registrant,
        SovereignCloud,
    )
    from residency.model.resolution import (
        ChainStep,
        Outcome,
        Resolution,
        ResolvedAddress,
    )

#: Name -> the submodule that defines it.
_WHERE = {
    "EvidenceKind": "facts",
    "Confidence": "facts",
    "DataVersion": "facts",
    "Place": "facts",
    "Evidence": "facts",
    "Location": "facts",
    "Registration": "facts",
    "Operator": "facts",
    "OwnerLink": "facts",
    "CdnEdge": "facts",
    "IpFacts": "facts",
    "BULK_COLUMNS": "facts",
    "WITHHELD_BASIS": "facts",
    "ObservedAddress": "endpoints",
    "Endpoint": "endpoints",
    "InputProblem": "endpoints",
    "Outcome": "resolution",
    "ChainStep": "resolution",
    "ResolvedAddress": "resolution",
    "Resolution": "resolution",
    "CertInfo": "probes",
    "ProbeResult": "probes",
    "Registrant": "probes",
    "Controller": "probes",
    "SovereignCloud": "probes",
    "Verdict": "audit",
    "Reason": "audit",
    "AddressVerdict": "audit",
    "EndpointVerdict": "audit",
    "EndpointResult": "audit",
    "EndpointGroup": "audit",
    "PolicyRef": "audit",
    "AuditResult": "audit",
    "SEVERITY": "audit",
}


if not TYPE_CHECKING:  # hidden from mypy, which reads the imports above: a misspelt
    # name stays an error instead of becoming Any

    def __getattr__(name: str) -> object:
        where = _WHERE.get(name)
        if where is None:
            raise AttributeError(f"module 'residency.model' has no attribute {name!r}")
        value = getattr(import_module(f"residency.model.{where}"), name)
        globals()[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted([*globals(), *_WHERE])


__all__ = [
    "BULK_COLUMNS",
    "SEVERITY",
    "WITHHELD_BASIS",
    "AddressVerdict",
    "AuditResult",
    "CdnEdge",
    "CertInfo",
    "ChainStep",
    "Confidence",
    "Controller",
    "DataVersion",
    "Endpoint",
    "EndpointGroup",
    "EndpointResult",
    "EndpointVerdict",
    "Evidence",
    "EvidenceKind",
    "InputProblem",
    "IpFacts",
    "Location",
    "ObservedAddress",
    "Operator",
    "Outcome",
    "OwnerLink",
    "Place",
    "PolicyRef",
    "ProbeResult",
    "Reason",
    "Registrant",
    "Registration",
    "Resolution",
    "ResolvedAddress",
    "SovereignCloud",
    "Verdict",
]
