"""The terminal table: one row per endpoint fitted to the terminal width (rich), or with
``-v`` / ``--details ENDPOINT`` one line per address with chain and evidence."""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import replace

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from residency.model import AuditResult, EndpointResult, IpFacts, Reason
from residency.report.common import (
    address_seen,
    address_verdicts,
    deciding_sides,
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
from residency.report.controller_text import controller_line, groups_block
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


def _columns() -> int:
    """The width when the caller gave none: the library never asks the terminal (the CLI
    passes the terminal's width in ``RenderOptions.width``)."""
    return 80


def where_cell(endpoint: EndpointResult) -> str:
    """Countries with address counts, most addresses first: "SG×3, IN×1"."""
    if not endpoint.facts:
        return outcome_text(endpoint)
    counts = Counter(f.location.country or "unknown" for f in endpoint.facts)
    return ", ".join(f"{c}×{n}" if n > 1 else c for c, n in counts.most_common())


def host_cell(endpoint: EndpointResult) -> str:
    """provider:region of the addresses, each once."""
    hosts = dict.fromkeys(provider_text(f) for f in endpoint.facts)
    return ", ".join(hosts) or "-"


#: Short names of the deciding sides, for narrow terminals.
_SIDE_SHORT = {"location": "loc", "operator": "op", "controller": "ctl"}


def why_cell(endpoint: EndpointResult, width: int = 160) -> str:
    """The first reason that decided the verdict, plus how many more there are; at most
    about three lines of the WHY column, whatever the terminal's ``width``."""
    reasons: list[Reason] = []
    for address in address_verdicts(endpoint).values():  # location and operator: first
        reasons += [r for r in address.reasons if r not in reasons]
    reasons += [
        r for r in (endpoint.verdict.reasons if endpoint.verdict else ()) if r not in reasons
    ]
    shown = [r for r in reasons if not is_passing(r)] or [r for r in reasons if is_warning(r)]
    if not shown:
        return ""
    narrow = width < 110
    limit = max(32, min(90, width - 70))
    extra = len(shown) - 1
    more = ""
    if extra:
        more = f" (+{extra})" if narrow else f" (+{extra} more; --details)"
    sides = deciding_sides(endpoint)
    # only worth saying when more than one side decided: one side is clear from the text
    names = [_SIDE_SHORT.get(side, side) for side in sides] if narrow else sides
    head = f"[{'+'.join(names) if narrow else ' + '.join(names)}] " if len(sides) > 1 else ""
    return head + cut(shown[0].message, limit) + more


def at_dots(name: str, width: int) -> str:
    """``name`` in lines of at most ``width``, broken after a dot where it has one (a label
    longer than ``width`` is left for the table to fold)."""
    lines = [""]
    for part in re.findall(r"[^.]*\.|[^.]+$", name):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


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
        if self.options.verbose:
            return self.long_table(result)
        if self.options.details is not None:
            wanted = self.options.details.lower().rstrip(".")
            chosen = [e for e in result.endpoints if e.endpoint.display.lower() == wanted]
            if not chosen:
                return f"no endpoint {self.options.details!r} in this audit\n"
            return self.long_table(replace(result, endpoints=tuple(chosen)))
        return self.summary(result)

    def summary(self, result: AuditResult) -> str:
        """One row per endpoint, wrapped inside the terminal width rather than past it."""
        judged = result.policy is not None
        width = self.options.width or _columns()
        table = Table(box=None, pad_edge=False, header_style="bold", expand=True)
        if judged:
            table.add_column("VERDICT", no_wrap=True)
        # From 80 to 109 columns a name is broken after its dots, not inside a label, in a
        # column of fixed width (rich would narrow a flexible one below the lines made for
        # it); narrower than that every column is needed, and rich folds the names.
        name_width = (width - 46) // 2 if 80 <= width < 110 else None
        table.add_column(
            "ENDPOINT", overflow="fold", ratio=None if name_width else 4, width=name_width
        )
        # WHERE and HOST are short and read badly when broken: natural width; the rest share.
        table.add_column("WHERE", no_wrap=True, overflow="ellipsis")
        table.add_column(
            "HOST", no_wrap=True, overflow="ellipsis", max_width=28 if width >= 110 else 18
        )
        if judged:
            table.add_column("WHY", overflow="fold", ratio=4)
        for endpoint in result.endpoints:
            name = endpoint.endpoint.display
            row = [at_dots(name, name_width) if name_width else name]
            row += [where_cell(endpoint), host_cell(endpoint)]
            if judged:
                verdict = label(endpoint_verdict(endpoint))
                colour = COLOURS.get(verdict, "white")
                shown = f"[bold {colour}]{verdict}[/]" if self.options.color else verdict
                row = [shown, *row, escape(why_cell(endpoint, width))]  # text, not markup
            table.add_row(*row)
        out = io.StringIO()
        console = Console(
            file=out,
            width=width,
            force_terminal=self.options.color,
            no_color=not self.options.color,
            highlight=False,
            markup=True,
            emoji=False,
        )
        console.print(table)
        text = out.getvalue()
        return text + self.footer(result, width)

    def footer(self, result: AuditResult, width: int = 160) -> str:
        lines: list[str] = []
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
        controlled = [line for e in result.endpoints if (line := controller_line(e))]
        if controlled:
            lines.append("")
            lines += controlled
        grouped = groups_block(result)
        if grouped:
            lines.append("")
            lines += grouped
        if result.problems:
            lines.append("")
            lines += [f"input problem: {p}" for p in result.problems]
        if any(re.search(r" \(\+\d+\)$", why_cell(e, width)) for e in result.endpoints):
            lines.append("")
            lines.append("(+N): N more reasons; -v, or --details ENDPOINT, shows them all")
        return "".join(f"{line}\n" for line in lines)

    def long_table(self, result: AuditResult) -> str:
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
        return "\n".join(lines) + "\n" + self.footer(result)
