"""Which Chromium a crawl drives, and how it is started: never a browser of Playwright's own."""

from __future__ import annotations

import os
import shutil

from residency.endpoints.crawl.errors import BrowserMissing, CrawlUnavailable

#: Debian's packages, in order of preference.
BROWSER_NAMES = ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome")

#: Every crawl's browser flags. ``--no-sandbox`` because crawls often run as root in
#: containers, where Chromium's sandbox cannot start; the rest keep the browser from
#: talking to anything but the pages (updates, sync, field trials, QUIC past the proxy).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--no-pings",
    "--dns-prefetch-disable",
    # Anything that still tried to resolve a name itself would fail, not ask the system:
    # every name must go through the proxy, and so through residency's resolver.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)

INSTALL_HINT = "install one with 'apt-get install chromium' or give --browser PATH"


def find_browser(given: str | None = None) -> str:
    """The Chromium executable to drive; ``BrowserMissing`` (one line) when there is none."""
    if given:
        found = shutil.which(given) or (given if os.access(given, os.X_OK) else None)
        if found is None or os.path.isdir(found):
            raise BrowserMissing(f"--browser {given}: not an executable file; {INSTALL_HINT}")
        return found
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissing(
        f"no Chromium found on PATH ({', '.join(BROWSER_NAMES[:2])}); {INSTALL_HINT}"
    )


def playwright_module() -> object:
    """``playwright.sync_api``, imported with browser downloads switched off."""
    from residency.paths import forbid_browser_downloads

    forbid_browser_downloads()  # the machine's Chromium is used, never one of Playwright's
    try:
        from playwright import sync_api
    except ImportError:
        raise CrawlUnavailable(
            "crawling needs the Python package playwright: pip install 'residency[crawl]'"
        ) from None
    return sync_api
