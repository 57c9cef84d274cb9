"""The crawl part of a report: endpoints by page and consent phase, first or third party,
with the initiator as evidence (only for endpoints a ``--crawl`` observed)."""

from __future__ import annotations

from dataclasses import dataclass

from residency.model import AuditResult
from residency.report.common import endpoint_verdict, label
from residency.textsafe import html as escape


@dataclass(frozen=True)
class CrawlSighting:
    """One host seen on one page in one phase."""

    page: str
    phase: str
    host: str
    party: str
    ip: str
    initiator: str
    verdict: str


def crawl_sightings(result: AuditResult) -> list[CrawlSighting]:
    """Every crawl observation of the result, in the order the crawl made them."""
    judged = result.policy is not None
    found = []
    for endpoint in result.endpoints:
        verdict = label(endpoint_verdict(endpoint)) if judged else "NOT JUDGED"
        for seen in endpoint.endpoint.observed:
            if seen.page:
                found.append(
                    CrawlSighting(
                        seen.page,
                        seen.phase,
                        endpoint.endpoint.host,
                        seen.party,
                        seen.ip,
                        seen.initiator,
                        verdict,
                    )
                )
    found.sort(key=lambda s: (s.page, not s.phase.startswith(("before", "no ")), s.host))
    return found


def only_after_consent(sightings: list[CrawlSighting]) -> set[str]:
    before = {s.host for s in sightings if not s.phase.startswith("after consent")}
    return {s.host for s in sightings if s.phase.startswith("after consent")} - before


def crawl_html(result: AuditResult) -> str:
    """``<h2>Crawl</h2>`` with one table per page and phase; "" when nothing was crawled."""
    sightings = crawl_sightings(result)
    if not sightings:
        return ""
    late = only_after_consent(sightings)
    blocks = []
    groups: dict[tuple[str, str], list[CrawlSighting]] = {}
    for sighting in sightings:
        groups.setdefault((sighting.page, sighting.phase), []).append(sighting)
    for (page, phase), members in groups.items():
        rows = "".join(
            f'<tr data-party="{escape(s.party)}"><td>{escape(s.verdict)}</td>'
            f"<td>{escape(s.host)}"
            + (" <b>only after consent</b>" if s.host in late else "")
            + f"</td><td>{escape(s.party)}</td><td><code>{escape(s.ip)}</code></td>"
            f"<td>{escape(s.initiator)}</td></tr>"
            for s in members
        )
        third = sum(1 for s in members if s.party == "third party")
        blocks.append(
            f'<h3><code>{escape(page)}</code> <span class="muted">{escape(phase)}: '
            f"{len(members)} hosts, {third} third party</span></h3>"
            '<table class="crawl"><tr><th>verdict</th><th>host</th><th>party</th>'
            f"<th>address connected</th><th>initiator</th></tr>{rows}</table>"
        )
    return f'<h2>Crawl: by page and consent phase</h2><div id="crawl">{"".join(blocks)}</div>'
