"""The compliance report over a period, as a document: a pure model built from the store's
query results (Store.report, Store.history, Store.run, Store.list_targets), and its formats.

The model says, per endpoint: where each address was and under which verdict (a timeline of
state stretches), the share of time compliant, each drift event with the run's data versions,
the waivers seen in force, and the policy versions over the period. When nothing was judged it
says why (no policy attached to the target, or no judged check), and an empty period says so.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from residency.drift import DriftEvent
from residency.model import EndpointResult, EndpointVerdict, Verdict
from residency.policy.model import Policy
from residency.report.interface import ComplianceFormat
from residency.report.world_map import Dot
from residency.report.world_map import svg as map_svg
from residency.textsafe import csv_cell, markdown, markdown_code, scrub
from residency.textsafe import html as escape
from residency.timefmt import iso_day, parse_iso

#: The same verdict colours as the audit's HTML report.
COLOURS = {
    "PASS": "#2e7d32",
    "WAIVED": "#1565c0",
    "WARN": "#f9a825",
    "INDETERMINATE": "#ef8f00",
    "FAIL": "#c62828",
    "NOT JUDGED": "#607d8b",
}


def verdict_label(value: int | None) -> str:
    return "NOT JUDGED" if value is None else Verdict(int(value)).name


@dataclass(frozen=True)
class AddressAt:
    ip: str
    country: str | None
    provider: str | None
    region: str | None
    verdict: str


@dataclass(frozen=True)
class Stretch:
    """One stretch of time in which the endpoint looked the same."""

    first_seen: str
    last_seen: str
    checks: int
    verdict: str
    policy: str | None
    data_versions: tuple[tuple[str, str], ...]
    addresses: tuple[AddressAt, ...]
    waivers: tuple[str, ...]


@dataclass(frozen=True)
class Drift:
    at: str
    kind: str
    ip: str | None
    before: str | None
    after: str | None
    detail: str
    run_id: str
    data_versions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Waiver:
    label: str
    first_seen: str
    last_seen: str
    expires: str  # from the policy when it is given, else what is known


@dataclass(frozen=True)
class EndpointSection:
    endpoint: str
    host: str
    checks: int
    judged_checks: int
    compliant_checks: int
    share_compliant: float | None
    current_verdict: str
    not_judged_because: str  # empty when judged
    stretches: tuple[Stretch, ...]
    drifts: tuple[Drift, ...]
    waivers: tuple[Waiver, ...]


@dataclass(frozen=True)
class ComplianceDocument:
    since: str
    until: str
    policies: tuple[str, ...]  # policy "name version" strings seen over the period, in order
    endpoints: tuple[EndpointSection, ...]
    no_data: str  # non-empty: why there is nothing to show
    #: "name version" of the policy the recorded facts were re-judged with after the fact
    #: (then `policies` are those recorded at the time, not used); empty: recorded verdicts.
    rejudged_with: str = ""


class HistorySource(Protocol):
    """The store queries this model reads (residency.store.Store has them)."""

    def report(
        self,
        since: float,
        until: float,
        stale_after: float = ...,
        judge: Any = None,
        judged_by: str | None = None,
    ) -> Any: ...
    def history(self, host: str) -> Any: ...
    def run(self, ref: str) -> Any: ...
    def list_targets(self) -> Any: ...


def _in_period(first: str, last: str, since: str, until: str) -> bool:
    return last >= since and first <= until


def build(
    store: HistorySource,
    since: float,
    until: float,
    policy: Policy | None = None,
    judge: Callable[[EndpointResult, float], EndpointVerdict] | None = None,
) -> ComplianceDocument:
    """Read the period's history from the store and shape it.

    With `policy`, each waiver seen in force gets its expiry from it, and the policy's own
    waivers covering an endpoint are listed too (the recorded history does not keep expiries).
    With `judge` too (that policy's evaluation), every recorded check is re-judged from its
    recorded facts, and the verdicts recorded at the time are not used.
    """
    rejudged_with = f"{policy.name} {policy.version}" if policy and judge else ""
    if rejudged_with:
        report = store.report(since, until, judge=judge, judged_by=rejudged_with)
    else:
        report = store.report(since, until)
    runs: dict[str, Any] = {}

    def run_of(ref: str) -> Any:
        if ref not in runs:
            runs[ref] = store.run(ref)
        return runs[ref]

    targets = {t.host: t for t in store.list_targets()}
    policies: list[str] = []
    sections = []
    for entry in report.endpoints:
        if entry.checks == 0:  # defensive: Store.report lists only endpoints checked in it
            continue
        timeline = store.history(entry.host)
        judged_at = {j.first_seen: j for j in entry.judgements}
        stretches = []
        waivers: dict[str, list[str]] = {}
        for span in timeline.spans:
            if not _in_period(span.first_seen, span.last_seen, report.since, report.until):
                continue
            info = run_of(span.first_run)
            if info.policy and info.policy not in policies:
                policies.append(info.policy)
            per_ip = {str(ip): int(v) for ip, v in span.body.get("address_verdicts", [])}
            verdict = span.verdict
            if rejudged_with:
                judgement = judged_at.get(span.first_seen)
                verdict = None if judgement is None else judgement.verdict
                per_ip = dict(judgement.address_verdicts) if judgement else {}
            labels = tuple(
                sorted(
                    {str(rule) for code, rule in span.body.get("reasons", []) if code == "waived"}
                )
            )
            for name in labels:
                seen = waivers.setdefault(name, [span.first_seen, span.last_seen])
                seen[0], seen[1] = min(seen[0], span.first_seen), max(seen[1], span.last_seen)
            stretches.append(
                Stretch(
                    first_seen=span.first_seen,
                    last_seen=span.last_seen,
                    checks=span.checks,
                    verdict=verdict_label(verdict),
                    policy=rejudged_with or info.policy,
                    data_versions=tuple(info.data_versions),
                    addresses=tuple(
                        AddressAt(
                            ip=str(a["ip"]),
                            country=a.get("country"),
                            provider=a.get("provider"),
                            region=a.get("region"),
                            verdict=verdict_label(per_ip.get(str(a["ip"]))),
                        )
                        for a in span.body.get("addresses", [])
                    ),
                    waivers=labels,
                )
            )
        drifts = tuple(
            _drift(event, tuple(run_of(event.run_id).data_versions))
            for event in timeline.events
            if event.endpoint == entry.endpoint and report.since <= event.at <= report.until
        )
        why = ""
        if entry.judged_checks == 0:
            target = targets.get(entry.host)
            if rejudged_with:
                reasons = sorted({j.why for j in entry.judgements if j.why})
                why = "; ".join(reasons) or "no check in the period could be re-judged"
            elif target is not None and target.policy is None:
                why = "no policy was attached to the target (watch add --policy FILE)"
            elif not any(s.policy for s in stretches):
                why = "no policy was attached to any check in the period"
            else:
                why = "no check in the period reached a verdict"
        sections.append(
            EndpointSection(
                endpoint=entry.endpoint,
                host=entry.host,
                checks=entry.checks,
                judged_checks=entry.judged_checks,
                compliant_checks=entry.compliant_checks,
                share_compliant=entry.uptime,
                current_verdict=verdict_label(entry.current_verdict),
                not_judged_because=why,
                stretches=tuple(stretches),
                drifts=drifts,
                waivers=_waivers(entry.host, waivers, policy),
            )
        )
    no_data = (
        "" if sections else f"no endpoint was checked between {report.since} and {report.until}"
    )
    return ComplianceDocument(
        report.since, report.until, tuple(policies), tuple(sections), no_data, rejudged_with
    )


def _waivers(host: str, seen: dict[str, list[str]], policy: Policy | None) -> tuple[Waiver, ...]:
    expiry: dict[str, str] = {}
    if policy is not None:
        for w in policy.waivers:
            expiry[w.label] = f"expires {iso_day(w.expires)} (owner {w.owner}; {policy.name})"
            if w.covers_host(host) and w.label not in seen:
                seen = {**seen, w.label: ["-", "-"]}  # in the policy, never used in the period
    unknown = "expiry not recorded (give --policy FILE to read it)"
    return tuple(
        Waiver(name, first, last, expiry.get(name, unknown))
        for name, (first, last) in sorted(seen.items())
    )


def _drift(event: DriftEvent, versions: tuple[tuple[str, str], ...]) -> Drift:
    return Drift(
        at=event.at,
        kind=str(event.kind.value),
        ip=event.ip,
        before=event.before,
        after=event.after,
        detail=event.detail,
        run_id=event.run_id,
        data_versions=versions,
    )


# ------------------------------------------------------------------------------- formats


def policy_line(document: ComplianceDocument) -> str:
    recorded = ", ".join(document.policies) or "none"
    if document.rejudged_with:
        return (
            f"Re-judged after the fact with policy {document.rejudged_with} from the recorded "
            f"facts of each check (policy recorded at the time, not used: {recorded})"
        )
    return f"Policy over the period: {recorded}"


def share_text(section: EndpointSection) -> str:
    if section.share_compliant is None:
        return f"not judged: {section.not_judged_because}"
    return (
        f"{section.share_compliant * 100:.2f}% of the time compliant "
        f"({section.compliant_checks}/{section.judged_checks} checks)"
    )


def _where(a: AddressAt) -> str:
    return " ".join(x for x in (a.country or "??", a.provider, a.region) if x)


def _versions(pairs: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} {version}" for name, version in pairs) or "none recorded"


def render(document: ComplianceDocument, fmt: ComplianceFormat) -> str:
    return {
        ComplianceFormat.JSON: render_json,
        ComplianceFormat.MARKDOWN: render_markdown,
        ComplianceFormat.CSV: render_csv,
        ComplianceFormat.HTML: render_html,
    }[fmt](document)


def render_json(document: ComplianceDocument) -> str:
    return json.dumps(scrub(asdict(document)), indent=2, ensure_ascii=False) + "\n"


def _md(text: str) -> str:
    return markdown(text)


def render_markdown(document: ComplianceDocument) -> str:
    lines = [
        f"# Compliance from {document.since} to {document.until}",
        "",
        _md(policy_line(document)),
        "",
    ]
    if document.no_data:
        return "\n".join([*lines, f"**No data:** {_md(document.no_data)}.", ""])
    for s in document.endpoints:
        lines += [
            f"## {_md(s.endpoint)}",
            "",
            f"**{_md(share_text(s))}**; now {s.current_verdict}",
            "",
        ]
        lines += ["| from | to | checks | verdict | address | where | address verdict |"]
        lines += ["|---|---|---|---|---|---|---|"]
        for st in s.stretches:
            for a in st.addresses or (AddressAt("-", None, None, None, "-"),):
                lines.append(
                    f"| {st.first_seen} | {st.last_seen} | {st.checks} | {st.verdict} "
                    f"| {_md(a.ip)} | {_md(_where(a))} | {a.verdict} |"
                )
        lines.append("")
        if s.drifts:
            lines += ["Drift events:", ""]
            for d in s.drifts:
                lines.append(
                    f"- {d.at} {d.kind}: {_md(d.detail)} "
                    f"(run {d.run_id}; data {_versions(d.data_versions)})"
                )
            lines.append("")
        for w in s.waivers:
            lines.append(
                f"- waiver {markdown_code(w.label)} in force {w.first_seen} .. {w.last_seen}; "
                f"{_md(w.expires)}"
            )
        if s.waivers:
            lines.append("")
    return "\n".join(lines)


CSV_FIELDS = [
    "endpoint",
    "from",
    "to",
    "checks",
    "verdict",
    "ip",
    "country",
    "provider",
    "region",
    "address_verdict",
    "policy",
    "share_compliant",
    "not_judged_because",
]


def render_csv(document: ComplianceDocument) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)

    for s in document.endpoints:
        share = "" if s.share_compliant is None else f"{s.share_compliant:.4f}"
        for st in s.stretches:
            for a in st.addresses or (AddressAt("", None, None, None, ""),):
                cells = [
                    s.endpoint,
                    st.first_seen,
                    st.last_seen,
                    st.checks,
                    st.verdict,
                    a.ip,
                    a.country or "",
                    a.provider or "",
                    a.region or "",
                    a.verdict,
                    st.policy or "",
                    share,
                    s.not_judged_because,
                ]
                writer.writerow([csv_cell(c) for c in cells])
    return out.getvalue()


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;
  background:#fafafa}
header{padding:24px 32px;background:#fff;border-bottom:1px solid #ddd}
main{padding:0 32px 32px} h1{margin:0 0 8px;font-size:24px} h2{font-size:18px;margin:28px 0 8px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;
  font-size:13px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0} .muted{color:#666} .nodata{font-size:18px;padding:16px;background:#fff3e0}
.bar{display:flex;height:14px;width:100%;border:1px solid #ccc;margin:6px 0}
.bar span{display:block;height:100%}
section.endpoint{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 16px;
  margin:16px 0}
@media print{
  body{background:#fff;font-size:11pt} header{border:0;padding:0 0 8pt}
  main{padding:0} section.endpoint{break-inside:avoid;border:0;padding:0}
  #map{max-width:100%;height:auto} .badge{border:1px solid #000;color:#000 !important;
  background:#fff !important} a{color:#000;text-decoration:none}
}
"""


def _badge(verdict: str) -> str:
    return f'<span class="badge" style="background:{COLOURS[verdict]}">{escape(verdict)}</span>'


def parse_moment(text: str) -> float:
    return parse_iso(text).timestamp()


def _timeline_bar(s: EndpointSection, since: str, until: str) -> str:
    """The verdict over the period as a coloured bar, each stretch its share of the width."""
    start, end = parse_moment(since), parse_moment(until)
    width = max(end - start, 1.0)
    parts = []
    for i, st in enumerate(s.stretches):
        a = max(parse_moment(st.first_seen), start)
        b = parse_moment(s.stretches[i + 1].first_seen) if i + 1 < len(s.stretches) else end
        share = max(0.0, min(b, end) - a) / width * 100
        parts.append(
            f'<span class="stretch" data-verdict="{st.verdict}" style="width:{share:.2f}%;'
            f'background:{COLOURS[st.verdict]}" title="{escape(st.first_seen)} .. '
            f'{escape(st.last_seen)}: {st.verdict}"></span>'
        )
    return f'<div class="bar">{"".join(parts)}</div>'


def render_html(document: ComplianceDocument) -> str:
    title = f"Compliance from {document.since} to {document.until}"
    body = [f"<header><h1>{escape(title)}</h1>"]
    body.append(f'<p id="policies">{escape(policy_line(document))}</p>')
    body.append("</header><main>")
    if document.no_data:
        body.append(f'<p class="nodata" id="no-data">No data: {escape(document.no_data)}.</p>')
    dots = []
    for s in document.endpoints:
        last = s.stretches[-1] if s.stretches else None
        for a in last.addresses if last else ():
            dots.append(
                Dot(
                    label=a.ip,
                    country=a.country,
                    colour=COLOURS[a.verdict],
                    verdict=a.verdict,
                    title=f"{s.endpoint} in {_where(a)}: {a.verdict}",
                )
            )
    if dots:
        drawn, _ = map_svg(dots)
        body.append("<h2>Where the addresses are now</h2>" + drawn)
    for s in document.endpoints:
        body.append(
            f'<section class="endpoint"><h2>{escape(s.endpoint)} {_badge(s.current_verdict)}</h2>'
        )
        body.append(f'<p class="share">{escape(share_text(s))}</p>')
        body.append(_timeline_bar(s, document.since, document.until))
        body.append(
            "<table><tr><th>from</th><th>to</th><th>checks</th><th>verdict</th><th>addresses</th>"
            "<th>policy</th><th>data versions</th></tr>"
        )
        for st in s.stretches:
            where = "<br>".join(
                f"{escape(a.ip)} {escape(_where(a))} {_badge(a.verdict)}" for a in st.addresses
            )
            body.append(
                f"<tr><td>{escape(st.first_seen)}</td><td>{escape(st.last_seen)}</td>"
                f"<td>{st.checks}</td><td>{_badge(st.verdict)}</td><td>{where or '-'}</td>"
                f"<td>{escape(st.policy or 'none')}</td>"
                f"<td>{escape(_versions(st.data_versions))}</td></tr>"
            )
        body.append("</table>")
        if s.drifts:
            body.append(
                "<h3>Drift events</h3><table><tr><th>at</th><th>kind</th><th>evidence</th>"
                "<th>run</th><th>data versions</th></tr>"
            )
            for d in s.drifts:
                body.append(
                    f'<tr class="drift"><td>{escape(d.at)}</td><td>{escape(d.kind)}</td>'
                    f"<td>{escape(d.detail)}</td><td>{escape(d.run_id)}</td>"
                    f"<td>{escape(_versions(d.data_versions))}</td></tr>"
                )
            body.append("</table>")
        if s.waivers:
            body.append("<h3>Waivers in force</h3><ul>")
            for w in s.waivers:
                body.append(
                    f'<li class="waiver"><code>{escape(w.label)}</code> {escape(w.first_seen)} .. '
                    f"{escape(w.last_seen)}; {escape(w.expires)}</li>"
                )
            body.append("</ul>")
        body.append("</section>")
    body.append("</main>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
