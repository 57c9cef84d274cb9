"""Markdown: a summary fit for a pull-request comment or a ticket, details folded away."""

from __future__ import annotations

from residency.model import AuditResult, EndpointResult, Verdict
from residency.report.common import (
    DBIP_ATTRIBUTION,
    DBIP_URL,
    address_verdicts,
    chain_text,
    counts,
    endpoint_verdict,
    is_warning,
    label,
    location_text,
    main_reasons,
    operator_text,
    outcome_text,
    provider_text,
    share_alike_attributions,
    summary_line,
    uses_dbip,
)
from residency.report.controller_text import (
    controller_text,
    edge_text,
    group_text,
    group_verdicts,
    registrant_text,
)
from residency.report.crawl_section import TITLE as CRAWL_TITLE
from residency.report.crawl_section import crawl_section
from residency.textsafe import LIMIT, markdown, markdown_code

ICONS = {
    "PASS": "✅",
    "WAIVED": "🟦",
    "WARN": "🟡",
    "INDETERMINATE": "⚠️",
    "FAIL": "❌",
    "NOT JUDGED": "ℹ️",
}


def cell(text: str, limit: int = LIMIT) -> str:
    """Text safe inside a Markdown table cell or a line of prose (textsafe.markdown)."""
    return markdown(text, limit)


class MarkdownFormatter:
    def render(self, result: AuditResult) -> str:
        verdict = label(result.verdict) if result.policy else "NOT JUDGED"
        lines = [f"## {ICONS[verdict]} residency audit: {verdict}", ""]
        if result.policy:
            policy = result.policy
            lines.append(f"Policy **{cell(policy.name)}** version {cell(policy.version)}.  ")
        lines.append(cell(summary_line(result), 4 * LIMIT))
        lines.append("")
        tally = counts(result)
        if result.policy:
            lines.append("| verdict | endpoints |")
            lines.append("|---|---:|")
            lines += [f"| {ICONS[name]} {name} | {n} |" for name, n in tally.by_verdict.items()]
            lines.append("")
        lines.append("| verdict | endpoint | addresses | location | provider | operator | why |")
        lines.append("|---|---|---|---|---|---|---|")
        order = sorted(
            result.endpoints, key=lambda e: -(endpoint_verdict(e) or Verdict.PASS).severity
        )
        for endpoint in order:
            lines.append(self.row(endpoint, result.policy is not None))
        lines.append("")
        lines += self.groups(result)
        lines += self.crawl(result)
        lines += self.details(order)
        if result.notes:
            lines += ["", "### Notes", ""]
            lines += [f"- {cell(note)}" for note in result.notes]
        if result.problems:
            lines += ["", "### Input problems", ""]
            lines += [f"- {markdown_code(str(p))}" for p in result.problems]
        lines += ["", "### Data versions", ""]
        lines += [
            f"- {markdown_code(v.dataset)} {cell(v.version)}"
            + (f" (fetched {cell(v.fetched)})" if v.fetched else "")
            for v in result.data_versions
        ] or ["- none recorded"]
        if uses_dbip(result):
            lines += ["", f"[{DBIP_ATTRIBUTION}]({DBIP_URL})"]
        for line in share_alike_attributions(result):
            # residency's own text (data/sources.toml, through the manifest), not an audited
            # party's: shown as written, so the licence's URL stays a link
            lines += ["", line]
        return "\n".join(lines) + "\n"

    def row(self, endpoint: EndpointResult, judged: bool) -> str:
        verdict = label(endpoint_verdict(endpoint)) if judged else "NOT JUDGED"
        facts = endpoint.facts
        addresses = ", ".join(f.ip for f in facts[:3]) + (" …" if len(facts) > 3 else "")
        locations = sorted({location_text(f) for f in facts}) or [outcome_text(endpoint)]
        providers = sorted({provider_text(f) for f in facts}) or ["–"]
        operators = sorted({operator_text(f) for f in facts}) or ["–"]
        why = "; ".join(r.message for r in main_reasons(endpoint)[:2] if not is_warning(r))
        aspects = sorted(
            {a.aspect for a in endpoint.verdict.addresses if a.verdict is endpoint.verdict.verdict}
            if endpoint.verdict
            else set()
        )
        if why and endpoint_verdict(endpoint) not in (None, Verdict.PASS) and aspects:
            why = f"[{'/'.join(aspects)}] {why}"
        if endpoint_verdict(endpoint) is Verdict.PASS:
            why = "; ".join(r.message for r in main_reasons(endpoint) if is_warning(r))
        name = endpoint.endpoint.display
        if name != endpoint.endpoint.host:
            name += f" ({endpoint.endpoint.host})"
        return (
            f"| {ICONS[verdict]} {verdict} | {markdown_code(name)} | {cell(addresses or '–')} "
            f"| {cell(', '.join(locations))} | {cell(', '.join(providers))} "
            f"| {cell(', '.join(operators))} | {cell(why)} |"
        )

    @staticmethod
    def groups(result: AuditResult) -> list[str]:
        """Endpoints by controller and by registrable domain (when any is known)."""
        lines: list[str] = []
        verdicts = group_verdicts(result)
        for by, title in (("controller", "By controller"), ("domain", "By registrable domain")):
            groups = [(i, g) for i, g in enumerate(result.groups) if g.by == by]
            if not any(g.name is not None for _, g in groups):
                continue
            lines += [f"### {title}", ""]
            for index, group in groups:
                verdict = verdicts[index]
                mark = f"{ICONS[verdict.name]} " if verdict is not None else ""
                members = ", ".join(markdown_code(h) for h in group.hosts[:6])
                members += " …" if len(group.hosts) > 6 else ""
                lines.append(f"- {mark}**{cell(group_text(group))}**: {members}")
            lines.append("")
        return lines

    @staticmethod
    def crawl(result: AuditResult) -> list[str]:
        """The crawl section (report/crawl_section.py): a table per page and phase, URLs and
        initiators in code spans."""
        section = crawl_section(result)
        if section is None:
            return []
        lines = [f"### {CRAWL_TITLE}", ""]
        for group in section.groups:
            title = f" {cell(group.title)}" if group.title else ""
            lines += [
                f"#### {markdown_code(group.page)}{title} — {cell(group.phase)}: {group.heading}",
                "",
                "| verdict | host | party | address connected | initiator |",
                "|---|---|---|---|---|",
            ]
            for s in group.sightings:
                late = " **only after consent**" if s.host in section.only_after_consent else ""
                lines.append(
                    f"| {ICONS[s.verdict]} {s.verdict} | {markdown_code(s.host)}{late} "
                    f"| {cell(s.party or '–')} | {markdown_code(s.ip)} "
                    f"| {markdown_code(s.initiator, table=True) if s.initiator else '–'} |"
                )
            lines.append("")
        return lines

    def details(self, endpoints: list[EndpointResult]) -> list[str]:
        lines = ["<details><summary>Evidence per endpoint</summary>", ""]
        for endpoint in endpoints:
            lines.append(f"#### {markdown_code(endpoint.endpoint.host)}")
            chain = chain_text(endpoint)
            lines.append(
                f"- resolution: {cell(outcome_text(endpoint))}"
                + (f"; chain {markdown_code(chain, 4 * LIMIT)}" if chain else "")
            )
            for text in (
                controller_text(endpoint),
                registrant_text(endpoint),
                edge_text(endpoint),
            ):
                if text:
                    lines.append(f"- {cell(text)}")
            for reason in endpoint.verdict.reasons if endpoint.verdict else ():
                lines.append(f"- {reason.code}: {cell(reason.message)}")
            verdicts = address_verdicts(endpoint)
            for facts in endpoint.facts:
                judged = verdicts.get(facts.ip)
                head = f"- {markdown_code(facts.ip)}: {cell(location_text(facts))}; "
                head += f"{cell(provider_text(facts))}; operator {cell(operator_text(facts))}"
                if judged:
                    head += f" → **{judged.verdict.name}** ({judged.aspect})"
                lines.append(head)
                for reason in judged.reasons if judged else ():
                    lines.append(f"  - {reason.code}: {cell(reason.message)}")
                for evidence in facts.evidence:
                    lines.append(f"  - evidence: {cell(evidence.summary())}")
            lines.append("")
        lines.append("</details>")
        return lines
