"""A crawl's record as endpoints: one per host, each address observed with its page,
phase, party and initiator (evidence for the report)."""

from __future__ import annotations

from dataclasses import dataclass, field

from residency.endpoints.collect import EndpointCollector
from residency.endpoints.crawl.crawler import site_of
from residency.endpoints.crawl.record import CrawlRecord, CrawlRequest
from residency.endpoints.errors import InvalidEntry
from residency.endpoints.interface import Targets
from residency.endpoints.normalise import normalise_host
from residency.model import Endpoint, ObservedAddress
from residency.text import shorten

FIRST_PARTY = "first party"
THIRD_PARTY = "third party"


def party_of(host: str, site: str) -> str:
    return FIRST_PARTY if site_of(host) == site else THIRD_PARTY


@dataclass
class _Use:
    first: str
    count: int = 0
    kinds: list[str] = field(default_factory=list)
    initiators: list[str] = field(default_factory=list)

    def add(self, request: CrawlRequest) -> None:
        self.count += 1
        self.first = min(self.first, request.when)
        if request.resource_type not in self.kinds:
            self.kinds.append(request.resource_type)
        if request.initiator not in self.initiators and len(self.initiators) < 3:
            self.initiators.append(request.initiator)

    @property
    def initiator(self) -> str:
        return "; ".join(self.initiators)


def crawl_targets(record: CrawlRecord, har: str | None = None) -> Targets:
    """Endpoints from a crawl; its page problems become input problems of the crawl. Read
    back from the crawl's HAR file ``har``, the endpoints come from that file and the
    crawl's problems, reported when it ran, are notes."""
    origin = har or f"crawl {shorten(record.start_url, 120)}"
    collector = EndpointCollector()
    uses: dict[tuple[str, str | None, str, str], _Use] = {}
    endpoints: dict[str, Endpoint] = {}
    for request in record.requests:
        if request.url.split(":", 1)[0].lower() not in ("http", "https", "ws", "wss"):
            continue  # data:, blob: and the like reach no host
        if request.host not in endpoints:
            try:
                endpoints[request.host] = normalise_host(request.host, origin=origin)
            except InvalidEntry as err:
                collector.problem(request.host, origin, str(err))
                continue
        key = (request.host, request.address, request.page, request.phase)
        use = uses.get(key)
        if use is None:
            use = uses[key] = _Use(first=request.when)
        use.add(request)
    unconnected: dict[str, int] = {}
    titles = {page.url: page.title for page in record.pages}
    for (host, address, page, phase), use in uses.items():
        endpoint = endpoints[host]
        if address is None:
            collector.add(endpoint)
            unconnected[endpoint.host] = unconnected.get(endpoint.host, 0) + use.count
            continue
        party = party_of(host, record.site)
        noun = "request" if use.count == 1 else "requests"
        context = (
            f"crawl {shorten(page, 100)} [{phase}], {party}: {use.count} {noun} "
            f"({', '.join(use.kinds)}); initiator {shorten(use.initiator, 120)}"
        )
        collector.add(
            Endpoint(
                host=endpoint.host,
                display=endpoint.display,
                origin=origin,
                is_ip=endpoint.is_ip,
                observed=(
                    ObservedAddress(
                        ip=address,
                        when=use.first,
                        context=context,
                        page=page,
                        page_title=titles.get(page, ""),
                        phase=phase,
                        party=party,
                        initiator=shorten(use.initiator, 300),
                    ),
                ),
            )
        )
    for problem in record.problems:
        if har is not None:
            collector.note(f"{har}: the crawl reported: {problem}")
            continue
        # "URL: what went wrong" (URLs hold no ": "); the page is the entry, not the start
        page, _, text = problem.partition(": ") if problem.startswith("http") else ("", "", "")
        collector.problem(page or record.start_url, "--crawl", text or problem)
    for host, count in unconnected.items():
        collector.note(
            f"{origin}: {host}: {count} request(s) with no connection made "
            "(blocked, failed or not resolved); the name is still audited"
        )
    after = record.only_after_consent()
    if after:
        collector.note(f"{origin}: contacted only after consent: {', '.join(after)}")
    elif record.consent:
        collector.note(f"{origin}: no host was contacted only after consent")
    for note in record.notes:
        collector.note(f"{origin}: {note}")
    pages = len(record.pages)
    collector.note(
        f"{origin}: {pages} page(s), {len(record.requests)} requests, {record.browser}, "
        f"user agent {record.user_agent!r}"
    )
    return collector.targets()
