"""A crawl in a real browser: Chromium driven by Playwright, names resolved by residency.

``crawl_site(settings, lookup)`` visits the site and returns a ``CrawlRecord`` (pages,
every request with the address really connected to, consent phases); ``crawl_targets``
turns it into endpoints and ``crawl_har`` into a HAR document. See docs/crawl.md.
"""

from __future__ import annotations

from residency.endpoints.crawl.errors import (
    BadCrawlUrl,
    BrowserMissing,
    CrawlError,
    CrawlUnavailable,
)
from residency.endpoints.crawl.record import (
    CrawlPage,
    CrawlRecord,
    CrawlRequest,
    CrawlSettings,
)

__all__ = [
    "BadCrawlUrl",
    "BrowserMissing",
    "CrawlError",
    "CrawlPage",
    "CrawlRecord",
    "CrawlRequest",
    "CrawlSettings",
    "CrawlUnavailable",
]
