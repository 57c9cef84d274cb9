"""``residency crawl`` as one library call: options in, HAR document and summary out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from residency.endpoints.crawl.har import crawl_har
from residency.endpoints.crawl.lookup import crawl_with_resolver
from residency.endpoints.crawl.record import CrawlOptions, CrawlSettings
from residency.endpoints.crawl.targets import THIRD_PARTY, party_of


@dataclass(frozen=True)
class CrawlOutcome:
    har: dict[str, Any]
    problems: tuple[str, ...]
    summary: str
    loaded: bool  # some page loaded (else the command exits 2)


def crawl_to_har(opts: Mapping[str, Any]) -> CrawlOutcome:
    """Crawl ``opts["url"]`` with the command line's options; raises ``CrawlError``
    (no browser, bad URL) and ``ResolveError`` (bad resolver spec) before starting."""
    from residency.resolve.engine import ChainResolver, ResolverSettings, Vantage

    settings = CrawlSettings.start(str(opts["url"]), CrawlOptions.from_options(opts))
    vantage = None
    if opts.get("vantage"):
        from residency.audit.core import AuditError
        from residency.locate.locator import Locator

        country = str(opts["vantage"]).upper()
        prefix = Locator.load(opts.get("data_dir")).prefix_for_country(country)
        if prefix is None:
            raise AuditError(f"--vantage {country}: no routable prefix in that country")
        vantage = Vantage(country, prefix)
    resolver = ChainResolver(
        ResolverSettings(
            nameservers=tuple(opts.get("nameservers") or ()),
            doh=opts.get("doh"),
            dot=opts.get("dot"),
            timeout=float(opts.get("timeout") or 3.0),
        )
    )
    try:
        record = crawl_with_resolver(settings, resolver, vantage)
    finally:
        resolver.close()
    hosts = {r.host for r in record.requests if r.host}
    third = {h for h in hosts if party_of(h, record.site) == THIRD_PARTY}
    after = record.only_after_consent()
    summary = (
        f"crawled {len(record.pages)} page(s) of {record.site}: {len(record.requests)} "
        f"requests to {len(hosts)} hosts ({len(third)} third party)"
        + (f"; only after consent: {', '.join(after)}" if after else "")
    )
    return CrawlOutcome(
        har=crawl_har(record),
        problems=record.problems,
        summary=summary,
        loaded=any(page.loaded or not page.problem for page in record.pages),
    )
