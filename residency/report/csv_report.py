"""CSV: one row per address (one row for an endpoint without any), for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from residency.model import AuditResult, EndpointResult, IpFacts
from residency.report.common import (
    address_verdicts,
    chain_text,
    endpoint_verdict,
    label,
    location_text,
    outcome_text,
)
from residency.report.controller_text import edge_text, registrant_text
from residency.textsafe import csv_cell

COLUMNS = (
    "host",
    "display",
    "origin",
    "categories",
    "endpoint_verdict",
    "resolution",
    "cname_chain",
    "ip",
    "address_verdict",
    "aspect",
    "country",
    "location",
    "confidence",
    "basis",
    "provider",
    "region",
    "service",
    "asn",
    "as_org",
    "cdn",
    "anycast",
    "operator",
    "operator_jurisdiction",
    "registered_org",
    "registered_country",
    "controller",
    "controller_country",
    "controller_basis",
    "registrant",
    "edge_seen",
    "reasons",
    "evidence",
)


def controller_columns(endpoint: EndpointResult) -> dict[str, object]:
    """Who runs the service and the edge seen: the same on every row of the endpoint."""
    controller = endpoint.controller
    return {
        "controller": controller.entity or "" if controller else "",
        "controller_country": controller.country or "" if controller else "",
        "controller_basis": controller.basis if controller and controller.entity else "",
        "registrant": registrant_text(endpoint),
        "edge_seen": edge_text(endpoint),
    }


class _SafeWriter(csv.DictWriter):  # type: ignore[type-arg]
    """Every cell through ``textsafe.csv_cell``: no formula, no hidden character."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: csv_cell(v) for k, v in rowdict.items()})


class CsvFormatter:
    def render(self, result: AuditResult) -> str:
        buffer = io.StringIO()
        writer = _SafeWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for endpoint in result.endpoints:
            base = {
                "host": endpoint.endpoint.host,
                "display": endpoint.endpoint.display,
                "origin": endpoint.endpoint.origin,
                "categories": " ".join(endpoint.endpoint.categories),
                "endpoint_verdict": label(endpoint_verdict(endpoint)) if result.policy else "",
                "resolution": outcome_text(endpoint),
                "cname_chain": chain_text(endpoint),
                **controller_columns(endpoint),
            }
            if not endpoint.facts:
                reasons = endpoint.verdict.reasons if endpoint.verdict else ()
                writer.writerow({**base, "reasons": " | ".join(r.message for r in reasons)})
                continue
            verdicts = address_verdicts(endpoint)
            for facts in endpoint.facts:
                writer.writerow({**base, **self.address(facts, verdicts.get(facts.ip))})
        return buffer.getvalue()

    def address(self, facts: IpFacts, judged: object) -> dict[str, object]:
        operator = facts.operator
        registration = facts.registration
        known = registration is not None and registration.status == "known"
        return {
            "ip": facts.ip,
            "address_verdict": getattr(getattr(judged, "verdict", None), "name", ""),
            "aspect": getattr(judged, "aspect", ""),
            "country": facts.location.country or "",
            "location": location_text(facts),
            "confidence": facts.location.confidence.value,
            "basis": facts.location.basis,
            "provider": facts.provider or "",
            "region": facts.region or "",
            "service": facts.service or "",
            "asn": facts.asn if facts.asn is not None else "",
            "as_org": facts.as_org or "",
            "cdn": "yes" if facts.cdn else "no",
            "anycast": "yes" if facts.anycast else "no",
            "operator": (operator.entity or operator.provider or "") if operator else "",
            "operator_jurisdiction": (operator.jurisdiction or "") if operator else "",
            "registered_org": (registration.org or "") if registration and known else "",
            "registered_country": (registration.country or "") if registration and known else "",
            "reasons": " | ".join(r.message for r in getattr(judged, "reasons", ())),
            "evidence": " | ".join(e.summary() for e in facts.evidence),
        }
