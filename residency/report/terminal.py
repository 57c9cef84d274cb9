"""The terminal table: one line per address, coloured by verdict when asked."""

from __future__ import annotations

import click

from residency.model import AuditResult, EndpointResult, IpFacts
from residency.report.common import (
    address_seen,
    address_verdicts,
    endpoint_verdict,
    is_passing,
    is_warning,
    label,
    location_text,
    observation_mismatch,
    operator_text,
    outcome_text,
    provider_text,
    vantage_comparison,
)
from residency.report.interface import RenderOptions

COLOURS = {
    "PASS": "green",
    "WAIVED": "cyan",
    "INDETERMINATE": "yellow",
    "FAIL": "red",
    "NOT JUDGED": "white",
}
HEADERS = (
    "VERDICT",
    "ENDPOINT",
    "CHAIN",
    "ADDRESS",
    "LOCATION",
    "CONF",
    "PROVIDER",
    "OPERATOR",
    "EVIDENCE",
    "WHY",
)


def chain_cell(endpoint: EndpointResult) -> str:
    """The CNAME steps after the endpoint (its name is in the ENDPOINT column)."""
    for resolution in endpoint.resolutions:
        if resolution.cname_targets:
            return "> " + " > ".join(resolution.cname_targets)
    return ""


def seen_mark(ip: str, endpoint: EndpointResult) -> str:
    """Marks addresses of endpoints whose input recorded what the app really contacted."""
    if not endpoint.endpoint.observed:
        return ""
    return {"observed": " (observed only)", "resolved": " (not observed)"}.get(
        address_seen(ip, endpoint), " (observed)"
    )


def evidence_cell(facts: IpFacts) -> str:
    """A short evidence summary: which sources, how many agree, any disagreement."""
    kinds: dict[str, int] = {}
    for e in facts.evidence:
        kinds[e.kind.value] = kinds.get(e.kind.value, 0) + 1
    parts = [f"{n} {k}" if n > 1 else k for k, n in kinds.items() if k != "asn"]
    text = facts.location.basis + (f" ({', '.join(parts)})" if parts else "")
    if facts.disagreements:
        text += f"; {len(facts.disagreements)} disagreement(s)"
    return text


def cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


class TerminalFormatter:
    def __init__(self, options: RenderOptions) -> None:
        self.options = options

    def rows(self, endpoint: EndpointResult, judged: bool) -> list[tuple[str, ...]]:
        name = endpoint.endpoint.display
        verdicts = address_verdicts(endpoint)
        if not endpoint.facts:
            why = "; ".join(r.message for r in endpoint.verdict.reasons) if endpoint.verdict else ""
            verdict = label(endpoint_verdict(endpoint)) if judged else "NOT JUDGED"
            cells = (chain_cell(endpoint), "-", outcome_text(endpoint), "-", "-", "-", "-")
            return [(verdict, name, *cells, why)]
        rows: list[tuple[str, ...]] = []
        for index, facts in enumerate(endpoint.facts):
            address = verdicts.get(facts.ip)
            verdict = label(address.verdict) if address else "NOT JUDGED"
            why = ""
            if address is not None:
                shown = [r for r in address.reasons if not is_passing(r)]
                if address.verdict.name == "PASS":
                    shown = [r for r in address.reasons if is_warning(r)]
                why = "; ".join(r.message for r in shown[:2])
                if address.verdict.name != "PASS" and why:
                    why = f"[{address.aspect}] {why}"  # which side decided: location/operator
            rows.append(
                (
                    verdict,
                    name if index == 0 else "",
                    chain_cell(endpoint) if index == 0 else "",
                    facts.ip + seen_mark(facts.ip, endpoint),
                    location_text(facts),
                    facts.location.confidence.value,
                    provider_text(facts),
                    operator_text(facts),
                    evidence_cell(facts),
                    why,
                )
            )
        return rows

    def render(self, result: AuditResult) -> str:
        judged = result.policy is not None
        width = self.options.max_width
        rows = [r for e in result.endpoints for r in self.rows(e, judged)]
        columns = HEADERS if judged else HEADERS[1:-1]
        # The last column (WHY) may run long: nothing follows it on the line.
        table = [
            tuple(
                cut(c, width * 2 if judged and i == len(HEADERS) - 1 else width)
                for i, c in enumerate(r if judged else r[1:-1])
            )
            for r in rows
        ]
        widths = [max([len(h), *(len(r[i]) for r in table)]) for i, h in enumerate(columns)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(columns, widths, strict=True)).rstrip()]
        for row in table:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
            if judged and self.options.color:
                cells[0] = click.style(
                    cells[0], fg=COLOURS.get(row[0].strip() or "", "white"), bold=True
                )
            lines.append("  ".join(cells).rstrip())
        mismatches = [
            (e.endpoint.display, m) for e in result.endpoints if (m := observation_mismatch(e))
        ]
        if mismatches:
            lines.append("")
            lines += [f"observed vs re-resolved differ for {h}: {m}" for h, m in mismatches]
        steered = [
            (e.endpoint.display, v) for e in result.endpoints if (v := vantage_comparison(e))
        ]
        if steered:
            lines.append("")
            lines += [f"vantages differ for {h}: {v}" for h, v in steered]
        if result.problems:
            lines.append("")
            lines += [f"input problem: {p}" for p in result.problems]
        return "\n".join(lines) + "\n"
