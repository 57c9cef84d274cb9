"""The crawl part of a report, defined once for every format: the endpoints a ``--crawl``
observed, grouped by page and consent phase, each host marked first or third party (by
registrable domain) with the initiator as evidence. Each formatter renders it (terminal,
Markdown, HTML); the texts stay raw here and are escaped where they are shown."""

from __future__ import annotations

from dataclasses import dataclass

from residency.model import AuditResult
from residency.report.common import endpoint_verdict, label

THIRD_PARTY = "third party"
#: The heading every format gives the section.
TITLE = "Crawl: by page and consent phase"


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
    page_title: str = ""


@dataclass(frozen=True)
class CrawlGroup:
    """The hosts one page contacted in one consent phase."""

    page: str
    title: str  # the page's <title> (untrusted), "" when none was read
    phase: str
    sightings: tuple[CrawlSighting, ...]

    @property
    def hosts(self) -> int:
        return len({s.host for s in self.sightings})

    @property
    def third_party(self) -> int:
        return len({s.host for s in self.sightings if s.party == THIRD_PARTY})

    @property
    def heading(self) -> str:
        """ "5 hosts, 4 third party" (the page and phase are shown by each format)."""
        return f"{self.hosts} host{'s' if self.hosts != 1 else ''}, {self.third_party} third party"


@dataclass(frozen=True)
class CrawlSection:
    """Every page and phase of the crawl, in crawl order (before consent first)."""

    groups: tuple[CrawlGroup, ...]
    only_after_consent: frozenset[str]  # hosts no page contacted before consent


def crawl_sightings(result: AuditResult) -> list[CrawlSighting]:
    """Every crawl observation of the result, by page, before-consent phases first."""
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
                        seen.page_title,
                    )
                )
    found.sort(key=lambda s: (s.page, not s.phase.startswith(("before", "no ")), s.host))
    return found


def only_after_consent(sightings: list[CrawlSighting]) -> set[str]:
    before = {s.host for s in sightings if not s.phase.startswith("after consent")}
    return {s.host for s in sightings if s.phase.startswith("after consent")} - before


def crawl_section(result: AuditResult) -> CrawlSection | None:
    """The crawl section of ``result``, or None when nothing in it was crawled."""
    sightings = crawl_sightings(result)
    if not sightings:
        return None
    groups: dict[tuple[str, str], list[CrawlSighting]] = {}
    for sighting in sightings:
        groups.setdefault((sighting.page, sighting.phase), []).append(sighting)
    return CrawlSection(
        tuple(
            CrawlGroup(
                page,
                next((s.page_title for s in members if s.page_title), ""),
                phase,
                tuple(members),
            )
            for (page, phase), members in groups.items()
        ),
        frozenset(only_after_consent(sightings)),
    )
