"""HTML: one self-contained file (inline CSS, SVG and a little JS), no network requests.

It carries the summary verdict, a chart of where the addresses are coloured by verdict,
per-endpoint evidence (chain, location and control side by side, sources), the data
versions and the DB-IP attribution. The only external URL is the attribution link.
"""

from __future__ import annotations

from collections.abc import Sequence

from residency.model import AuditResult, EndpointResult, IpFacts, Reason, Verdict
from residency.report.common import (
    DBIP_ATTRIBUTION,
    DBIP_URL,
    address_verdicts,
    chain_text,
    country_verdicts,
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
from residency.report.world_map import Dot
from residency.report.world_map import svg as map_svg
from residency.textsafe import html as escape

COLOURS = {
    "PASS": "#2e7d32",
    "WAIVED": "#1565c0",
    "WARN": "#f9a825",
    "INDETERMINATE": "#ef8f00",
    "FAIL": "#c62828",
    "NOT JUDGED": "#607d8b",
}
#: Pale versions of COLOURS, to tint a country's outline under its dots.
TINTS = {
    "PASS": "#c8e6c9",
    "WAIVED": "#bbdefb",
    "WARN": "#fff59d",
    "INDETERMINATE": "#ffe0b2",
    "FAIL": "#ffcdd2",
    "NOT JUDGED": "#cfd8dc",
}
ORDER = ["FAIL", "INDETERMINATE", "WARN", "WAIVED", "PASS", "NOT JUDGED"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
  color:#1b1b1b;background:#fafafa}
header{padding:24px 32px;background:#fff;border-bottom:1px solid #ddd}
h1{margin:0 0 8px;font-size:24px} h2{font-size:18px;margin:28px 0 8px}
main{padding:0 32px 32px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;
  font-weight:600;font-size:13px}
.big{font-size:20px;padding:4px 16px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #e0e0e0;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0} code{font-size:12px}
details{background:#fff;border:1px solid #e0e0e0;margin:6px 0;padding:6px 10px}
summary{cursor:pointer;font-weight:600}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin:8px 0}
.side{border:1px solid #eee;padding:8px} .side h4{margin:0 0 4px;font-size:13px}
.warn{color:#8a5a00} .muted{color:#666} ul{margin:4px 0 4px 18px;padding:0}
.filters button{margin-right:6px;border:1px solid #bbb;background:#fff;border-radius:4px;
  padding:3px 10px;cursor:pointer}
.filters button.on{background:#333;color:#fff}
.group{background:#fff;border:1px solid #e0e0e0;margin:6px 0;padding:6px 10px}
.group h3{margin:2px 0 4px;font-size:14px}
footer{padding:16px 32px;color:#555;font-size:13px;border-top:1px solid #ddd}
"""

JS = """
function residencyFilter(v){
  document.querySelectorAll('.filters button').forEach(function(b){
    b.classList.toggle('on',b.dataset.v===v);});
  document.querySelectorAll('[data-verdict]').forEach(function(e){
    e.style.display=(v==='ALL'||e.dataset.verdict===v)?'':'none';});
}
"""


def badge(name: str, big: bool = False) -> str:
    colour = COLOURS.get(name, "#607d8b")
    extra = " big" if big else ""
    return f'<span class="badge{extra}" style="background:{colour}">{escape(name)}</span>'


def chart(result: AuditResult) -> str:
    """Horizontal stacked bars: addresses per country, segments coloured by verdict."""
    data = country_verdicts(result)
    if not data:
        return '<p class="muted">No addresses to chart.</p>'
    bar_w, row_h, left = 560, 24, 150
    most = max(sum(c.values()) for c in data.values())
    height = row_h * len(data) + 40
    parts = [
        f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{left + bar_w + 60}" '
        f'height="{height}" role="img" aria-label="Addresses per country by verdict">'
    ]
    for row, (country, tally) in enumerate(data.items()):
        y = 10 + row * row_h
        name = "unknown" if country == "??" else country
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="13">'
            f"{escape(name)}</text>"
        )
        x = float(left)
        for verdict in ORDER:
            count = tally.get(verdict, 0)
            if not count:
                continue
            width = bar_w * count / most
            parts.append(
                f'<rect class="bar" data-country="{escape(country)}" data-verdict="{verdict}" '
                f'x="{x:.1f}" y="{y}" width="{width:.1f}" height="{row_h - 6}" '
                f'fill="{COLOURS[verdict]}"><title>{escape(name)}: {count} {verdict}</title></rect>'
            )
            x += width
        total = sum(tally.values())
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="12">{total}</text>')
    legend_y = height - 12
    x = left
    for verdict in ORDER:
        parts.append(
            f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{COLOURS[verdict]}"/>'
        )
        parts.append(f'<text x="{x + 16}" y="{legend_y}" font-size="12">{verdict}</text>')
        x += 24 + 8 * len(verdict)
    parts.append("</svg>")
    return "".join(parts)


def world_map(result: AuditResult) -> str:
    """Country outlines (Natural Earth 1:110m) with a dot per located address, coloured by the
    address's verdict; the audited countries are tinted by their worst verdict."""
    data = country_verdicts(result)
    tint = {
        code: TINTS[next(v for v in ORDER if tally.get(v))]
        for code, tally in data.items()
        if code != "??"
    }
    dots = []
    for endpoint in result.endpoints:
        verdicts = address_verdicts(endpoint)
        for facts in endpoint.facts:
            judged = verdicts.get(facts.ip)
            verdict = label(judged.verdict if judged else None)
            where = facts.location.country or "no location"
            place = facts.location.place
            if place is not None and place.city:
                where = f"{place.city}, {where}"
            dots.append(
                Dot(
                    label=facts.ip,
                    country=facts.location.country,
                    colour=COLOURS[verdict],
                    verdict=verdict,
                    title=f"{endpoint.endpoint.display} in {where}: {verdict}",
                )
            )
    drawn, unplaced = map_svg(dots, tint)
    note = (
        f'<p class="muted">{unplaced} address{"es" if unplaced != 1 else ""} without a '
        "location (anycast, private, no data) are not on the map; see the chart.</p>"
        if unplaced
        else ""
    )
    return drawn + note


def reasons_html(reasons: Sequence[Reason]) -> str:
    items = []
    for reason in reasons:
        css = ' class="warn"' if is_warning(reason) else ""
        rule_text = f' <span class="muted">[{escape(reason.rule)}]</span>' if reason.rule else ""
        evidence = "".join(f'<li class="muted">{escape(e)}</li>' for e in reason.evidence)
        items.append(
            f"<li{css}><code>{escape(reason.code)}</code> {escape(reason.message)}{rule_text}"
            + (f"<ul>{evidence}</ul>" if evidence else "")
            + "</li>"
        )
    return f"<ul>{''.join(items)}</ul>" if items else ""


def address_html(facts: IpFacts, endpoint: EndpointResult) -> str:
    judged = address_verdicts(endpoint).get(facts.ip)
    head = f"<code>{escape(facts.ip)}</code> "
    if judged:
        head += (
            badge(judged.verdict.name) + f' <span class="muted">({escape(judged.aspect)})</span>'
        )
    location = [
        f"<b>{escape(location_text(facts))}</b>",
        f"confidence {escape(facts.location.confidence.value)}, "
        f"basis {escape(facts.location.basis)}",
        f"provider {escape(provider_text(facts))}"
        + (f", service {escape(facts.service)}" if facts.service else ""),
    ]
    if facts.asn is not None:
        location.append(f"AS{facts.asn} {escape(facts.as_org or '')}")
    if facts.disagreements:
        location.append("disagreements: " + escape("; ".join(facts.disagreements)))
    if not facts.routable:
        location.append("not publicly routable: " + escape(facts.not_routable_reason or ""))
    control = [f"<b>{escape(operator_text(facts))}</b>"]
    if facts.operator and facts.operator.basis:
        control.append("basis " + escape(facts.operator.basis))
    registration = facts.registration
    if registration is not None:
        if registration.status == "known":
            control.append(
                f"registered to {escape(registration.org or registration.network_name or '?')}, "
                f"{escape(registration.country or '??')} "
                f"({escape(registration.rir or registration.source)}"
                + (f", {escape(registration.cidr)}" if registration.cidr else "")
                + ")"
            )
        else:
            control.append(f"registration unknown ({escape(registration.reason)})")
    evidence = "".join(f"<li>{escape(e.summary())}</li>" for e in facts.evidence)
    return (
        f'<div class="address">{head}<div class="sides">'
        f'<div class="side"><h4>Location</h4>{"<br>".join(location)}</div>'
        f'<div class="side"><h4>Control</h4>{"<br>".join(control)}</div></div>'
        f"{reasons_html(judged.reasons) if judged else ''}"
        f'<div class="muted">sources:</div><ul class="evidence">{evidence}</ul></div>'
    )


def endpoint_html(endpoint: EndpointResult, judged: bool) -> str:
    verdict = label(endpoint_verdict(endpoint)) if judged else "NOT JUDGED"
    name = endpoint.endpoint.display
    if name != endpoint.endpoint.host:
        name += f" ({endpoint.endpoint.host})"
    lines = [f"<p>resolution: {escape(outcome_text(endpoint))}"]
    chain = chain_text(endpoint)
    if chain:
        lines.append(f"; chain <code>{escape(chain)}</code>")
    lines.append("</p>")
    service = [
        t for t in (controller_text(endpoint), registrant_text(endpoint), edge_text(endpoint)) if t
    ]
    if service:  # who runs the service, beside where it is and who hosts it (below)
        lines.append(f'<p class="service">{"<br>".join(escape(t) for t in service)}</p>')
    steps = [
        f"<tr><td>{escape(r.resolver)}{' / ' + escape(r.vantage) if r.vantage else ''}</td>"
        f"<td>{escape(s.owner)}</td><td>{escape(s.rtype)}</td><td>{escape(s.target)}</td>"
        f"<td>{s.ttl}</td></tr>"
        for r in endpoint.resolutions
        for s in r.chain
    ]
    if steps:
        lines.append(
            '<table class="chain"><tr><th>resolver</th><th>owner</th><th>type</th>'
            f"<th>target</th><th>TTL</th></tr>{''.join(steps)}</table>"
        )
    if endpoint.verdict and endpoint.verdict.reasons:
        lines.append(reasons_html(endpoint.verdict.reasons))
    lines += [address_html(f, endpoint) for f in endpoint.facts]
    seen = "".join(f"<li>{escape(o.context)}</li>" for o in endpoint.endpoint.observed[:20])
    if seen:  # where the input saw it: HAR page, capture flow, crawl page and phase, app
        lines.append(f'<div class="muted">seen:</div><ul class="observed">{seen}</ul>')
    categories = ", ".join(endpoint.endpoint.categories)
    extra = f' <span class="muted">categories: {escape(categories)}</span>' if categories else ""
    return (
        f'<details class="endpoint" data-verdict="{verdict}"{" open" if verdict == "FAIL" else ""}>'
        f"<summary>{badge(verdict)} "
        f"{escape(name)}{extra}</summary>{''.join(lines)}</details>"
    )


def crawl_html(result: AuditResult) -> str:
    """The crawl section (report/crawl_section.py): one table per page and phase; "" when
    nothing was crawled."""
    section = crawl_section(result)
    if section is None:
        return ""
    blocks = []
    for group in section.groups:
        rows = "".join(
            f'<tr data-party="{escape(s.party)}"><td>{escape(s.verdict)}</td>'
            f"<td>{escape(s.host)}"
            + (" <b>only after consent</b>" if s.host in section.only_after_consent else "")
            + f"</td><td>{escape(s.party)}</td><td><code>{escape(s.ip)}</code></td>"
            f"<td>{escape(s.initiator)}</td></tr>"
            for s in group.sightings
        )
        title = f" {escape(group.title)}" if group.title else ""
        blocks.append(
            f'<h3><code>{escape(group.page)}</code>{title} <span class="muted">'
            f"{escape(group.phase)}: {escape(group.heading)}</span></h3>"
            '<table class="crawl"><tr><th>verdict</th><th>host</th><th>party</th>'
            f"<th>address connected</th><th>initiator</th></tr>{rows}</table>"
        )
    return f'<h2>{CRAWL_TITLE}</h2><div id="crawl">{"".join(blocks)}</div>'


def groups_html(result: AuditResult) -> str:
    """Endpoints grouped by controller, then by registrable domain (each only when some
    group's key is known), one block per group with its members' verdicts."""
    by_host = {e.endpoint.host: e for e in result.endpoints}
    judged = result.policy is not None
    sections = []
    verdicts = group_verdicts(result)
    for by, title in (("controller", "By controller"), ("domain", "By registrable domain")):
        groups = [(i, g) for i, g in enumerate(result.groups) if g.by == by]
        if not any(g.name is not None for _, g in groups):
            continue
        blocks = []
        for index, group in groups:
            verdict = label(verdicts[index]) if judged else "NOT JUDGED"
            members = []
            for host in group.hosts:
                member = by_host.get(host)
                shown = label(endpoint_verdict(member)) if judged and member else "NOT JUDGED"
                where = (
                    ", ".join(dict.fromkeys(location_text(f) for f in member.facts))
                    if member
                    else ""
                )
                members.append(
                    f"<li>{badge(shown)} {escape(host)}"
                    f' <span class="muted">{escape(where or "no address")}</span></li>'
                )
            blocks.append(
                f'<div class="group" data-by="{by}" data-verdict="{verdict}">'
                f"<h3>{badge(verdict)} {escape(group_text(group))}</h3>"
                f"<ul>{''.join(members)}</ul></div>"
            )
        sections.append(
            f'<h2>{title}</h2><div id="groups-{by}" class="groups">{"".join(blocks)}</div>'
        )
    return "".join(sections)


class HtmlFormatter:
    def render(self, result: AuditResult) -> str:
        judged = result.policy is not None
        overall = label(result.verdict) if judged else "NOT JUDGED"
        tally = counts(result)
        title = "residency audit" + (f": {result.policy.name}" if result.policy else "")
        policy = (
            f"<p>Policy <b>{escape(result.policy.name)}</b> version {escape(result.policy.version)}"
            + (f" <code>{escape(result.policy.sha256[:12])}</code>" if result.policy.sha256 else "")
            + "</p>"
            if result.policy
            else "<p>No policy applied: this report shows where things are.</p>"
        )
        order = sorted(
            result.endpoints, key=lambda e: -(endpoint_verdict(e) or Verdict.PASS).severity
        )
        rows = []
        for endpoint in order:
            verdict = label(endpoint_verdict(endpoint)) if judged else "NOT JUDGED"
            why = "; ".join(r.message for r in main_reasons(endpoint)[:2])
            facts = endpoint.facts
            where = ", ".join(sorted({location_text(f) for f in facts})) or outcome_text(endpoint)
            providers = ", ".join(sorted({provider_text(f) for f in facts})) or "-"
            operators = ", ".join(sorted({operator_text(f) for f in facts})) or "-"
            rows.append(
                f'<tr data-verdict="{verdict}"><td>{badge(verdict)}</td>'
                f"<td>{escape(endpoint.endpoint.display)}</td>"
                f"<td>{escape(', '.join(f.ip for f in endpoint.facts) or '-')}</td>"
                f"<td>{escape(where)}</td><td>{escape(providers)}</td><td>{escape(operators)}</td>"
                f"<td>{escape(why)}</td></tr>"
            )
        buttons = "".join(
            f'<button data-v="{v}" onclick="residencyFilter(\'{v}\')">{v} ({n})</button>'
            for v, n in tally.by_verdict.items()
        )
        versions = "".join(
            f"<tr><td>{escape(v.dataset)}</td><td>{escape(v.version)}</td>"
            f"<td>{escape(v.fetched or '')}</td><td>{escape(v.origin or '')}</td>"
            f"<td>{escape(v.licence or '')}</td><td>{escape(v.attribution or '')}</td></tr>"
            for v in result.data_versions
        )
        problems = "".join(f"<li>{escape(str(p))}</li>" for p in result.problems)
        notes = "".join(f"<li>{escape(note)}</li>" for note in result.notes)
        share_alike = "".join(f"{escape(line)}.\n" for line in share_alike_attributions(result))
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body>
<header><h1>{escape(title)}</h1>
<div id="verdict">{badge(overall, big=True)}</div>
{policy}
<p id="summary">{escape(summary_line(result))}</p>
<p class="muted">run {escape(result.run_id)}: {escape(result.started)} to {escape(result.finished)}
{(" · resolvers " + escape(", ".join(result.resolvers))) if result.resolvers else ""}
{(" · vantages " + escape(", ".join(result.vantages))) if result.vantages else ""}</p>
</header>
<main>
<h2>Where the addresses are</h2>
{world_map(result)}
{chart(result)}
<h2>Endpoints</h2>
<div class="filters"><button data-v="ALL" class="on" onclick="residencyFilter('ALL')">
ALL ({tally.endpoints})</button>{buttons}</div>
<table id="endpoints"><tr><th>verdict</th><th>endpoint</th><th>addresses</th><th>location</th>
<th>provider</th><th>operator</th><th>why</th></tr>{"".join(rows)}</table>
{groups_html(result)}
{crawl_html(result)}
<h2>Evidence per endpoint</h2>
{"".join(endpoint_html(e, judged) for e in order)}
{f"<h2>Notes</h2><ul id='notes'>{notes}</ul>" if notes else ""}
{f"<h2>Input problems</h2><ul>{problems}</ul>" if problems else ""}
<h2>Data versions</h2>
<table id="data-versions"><tr><th>dataset</th><th>version</th><th>fetched</th><th>origin</th>
<th>licence</th><th>attribution</th></tr>{versions}</table>
</main>
<footer><p id="attribution"><a href="{DBIP_URL}">{DBIP_ATTRIBUTION}</a>.
{share_alike}Registration data from the regional internet registries (RDAP).
Provider ranges from the providers' published feeds.</p>
<p>Generated by residency {escape(result.tool_version)}.</p></footer>
<script>{JS}</script>
</body></html>
"""
