"""What a crawl is asked to do and what it recorded, as frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from residency.endpoints.crawl.errors import BadCrawlUrl

#: Phase names, as reports and HAR files show them.
NO_INTERACTION = "no interaction"
BEFORE_CONSENT = "before consent"


def after_consent(how: str) -> str:
    """``after consent (accept)``, ``(reject)`` or ``(click)``."""
    return f"after consent ({how})"


@dataclass(frozen=True)
class CrawlOptions:
    """How far a crawl goes and its bounds; the same for every start URL of a run."""

    pages: int = 1  # pages visited, the start page included (--crawl-pages)
    depth: int = 1  # link hops from the start page (--crawl-depth)
    consent: str | None = None  # "accept" or "reject": click the CMP's button
    consent_click: str | None = None  # a CSS selector to click instead of the table
    page_timeout: float = 30.0  # seconds per page: load and settle
    crawl_timeout: float = 300.0  # seconds for the whole crawl
    max_requests: int = 5000  # requests recorded over the crawl; then the page is stopped
    settle: float = 2.0  # seconds to keep recording after "load" (beacons, lazy loads)
    obey_robots: bool = True
    browser: str | None = None  # path of a Chromium; else chromium(-headless-shell) on PATH
    browser_args: tuple[str, ...] = ()  # more Chromium flags, after residency's own

    @classmethod
    def from_options(cls, opts: Mapping[str, Any]) -> CrawlOptions:
        """From the command line's ``--crawl-*`` options (absent ones keep defaults)."""
        defaults = cls()
        return cls(
            pages=int(opts.get("crawl_pages") or defaults.pages),
            depth=int(opts["crawl_depth"] if opts.get("crawl_depth") is not None else 1),
            consent=opts.get("consent"),
            consent_click=opts.get("consent_click"),
            page_timeout=float(opts.get("page_timeout") or defaults.page_timeout),
            crawl_timeout=float(opts.get("crawl_timeout") or defaults.crawl_timeout),
            max_requests=int(opts.get("max_requests") or defaults.max_requests),
            settle=float(opts["settle"] if opts.get("settle") is not None else defaults.settle),
            obey_robots=not opts.get("ignore_robots"),
            browser=opts.get("browser"),
        )


@dataclass(frozen=True)
class CrawlSettings(CrawlOptions):
    """One crawl: where it starts, how far it goes, and its bounds."""

    url: str = ""

    def __post_init__(self) -> None:
        check_start_url(self.url)
        if self.consent not in (None, "accept", "reject"):
            raise BadCrawlUrl(self.url, f"--consent {self.consent!r}: give accept or reject")

    @classmethod
    def start(cls, url: str, options: CrawlOptions | None = None) -> CrawlSettings:
        """``options`` applied to the crawl starting at ``url`` (``BadCrawlUrl`` if bad)."""
        return cls(url=url, **asdict(options or CrawlOptions()))


def check_start_url(url: str) -> str:
    """The host of an http(s) start URL; ``BadCrawlUrl`` (one line) for anything else."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as err:
        raise BadCrawlUrl(url, f"not a URL ({err})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BadCrawlUrl(url, f"only http(s) URLs are crawled, not {parts.scheme or 'no scheme'}")
    if not host:
        raise BadCrawlUrl(url, "the URL has no host name")
    return host


@dataclass(frozen=True)
class CrawlRequest:
    """One request a page made, as the browser and the proxy saw it."""

    url: str
    host: str
    method: str
    resource_type: str  # document, script, image, fetch, xhr, ping, websocket, ...
    page: str  # the URL of the page visited when it was made
    phase: str  # NO_INTERACTION, BEFORE_CONSENT or after_consent(...)
    initiator: str  # "parser https://...", "script https://.../a.js", "redirect from ..."
    when: str  # ISO-8601 UTC
    address: str | None  # the address the proxy connected to for this host and port
    status: int | None = None
    failure: str = ""  # net::ERR_... when it failed
    redirected_from: str = ""
    frame: str = ""  # the frame's URL when it is not the page's (iframes)
    service_worker: bool = False


@dataclass(frozen=True)
class CrawlPage:
    """One page visited: where it ended up and what stopped it early, if anything."""

    url: str
    final_url: str
    title: str
    depth: int
    started: str
    loaded: bool  # the load event fired within the time box
    problem: str = ""  # one line: time box, crash, TLS error, unreachable, cap


@dataclass(frozen=True)
class CrawlRecord:
    """Everything one crawl saw."""

    start_url: str
    site: str  # the registrable domain pages must share (or the host, for an address)
    pages: tuple[CrawlPage, ...]
    requests: tuple[CrawlRequest, ...]
    started: str
    finished: str
    browser: str  # "Chromium 156.0..." as the browser reports itself
    user_agent: str
    consent: str = ""  # what was clicked: "OneTrust accept (#onetrust-accept-btn-handler)"
    problems: tuple[str, ...] = ()  # one line each: bad page, cap, crash, robots
    notes: tuple[str, ...] = ()

    def only_after_consent(self) -> tuple[str, ...]:
        """Hosts first contacted after the consent click: never before it."""
        before = {r.host for r in self.requests if not r.phase.startswith("after consent")}
        after = [r.host for r in self.requests if r.phase.startswith("after consent")]
        return tuple(dict.fromkeys(h for h in after if h not in before))
