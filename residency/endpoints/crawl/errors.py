"""Errors of a crawl: no browser, no Playwright, a URL that cannot be crawled."""

from __future__ import annotations

from residency.endpoints.errors import InputError


class CrawlError(InputError):
    """A crawl could not start or could not run at all; ``str`` is the one line shown."""


class BrowserMissing(CrawlError):
    """No Chromium on this machine (none on PATH, or ``--browser`` names nothing runnable)."""


class CrawlUnavailable(CrawlError):
    """The Python package ``playwright`` is not installed (the ``crawl`` extra)."""


class BadCrawlUrl(CrawlError):
    """The start URL is not an http(s) URL with a host name; ``reason`` says why."""

    def __init__(self, url: str, reason: str) -> None:
        shown = url if len(url) <= 200 else url[:197] + "..."
        super().__init__(f"crawl {shown!r}: {reason}")
        self.url = shown
        self.reason = reason
