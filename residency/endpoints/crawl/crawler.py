"""Drive Chromium through the pages of one site and record every request they make.

The browser's only way out is the resolving proxy (``proxy.py``): every name is resolved
by residency and every connection is recorded with the address it reached. Playwright
reports the requests (type, frame, redirects, failures); a CDP session per page adds who
initiated each one (the parser of which document, which script).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urlsplit
from urllib.robotparser import RobotFileParser

from residency import __version__
from residency.addresses import is_address
from residency.endpoints.crawl.browser import CHROMIUM_ARGS, find_browser, playwright_module
from residency.endpoints.crawl.consent import consent_platforms
from residency.endpoints.crawl.errors import BrowserMissing
from residency.endpoints.crawl.proxy import Lookup, ResolvingProxy
from residency.endpoints.crawl.record import (
    BEFORE_CONSENT,
    NO_INTERACTION,
    CrawlPage,
    CrawlRecord,
    CrawlRequest,
    CrawlSettings,
    after_consent,
    check_start_url,
)
from residency.endpoints.domain import registrable_domain
from residency.text import shorten
from residency.timefmt import utc_iso

USER_AGENT_TOKEN = "residency"
MAX_LINKS_PER_PAGE = 500
_POLL_MS = 100
_CHECK_MS = 500
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def site_of(host: str) -> str:
    """What "the same site" means for a crawl: the registrable domain, else the host."""
    if is_address(host):
        return host
    return registrable_domain(host) or host


def same_site(url: str, site: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and (site_of(parts.hostname or "") == site)
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return shorten(line.removeprefix("Error: ").removeprefix("Page.goto: "), 240)


@dataclass
class _Pending:
    """A request while it runs; frozen into a CrawlRequest at the end."""

    url: str
    method: str
    resource_type: str
    page: str
    phase: str
    when: str
    frame: str
    service_worker: bool
    redirected_from: str
    status: int | None = None
    failure: str = ""
    initiator: str = ""  # set when the proxy alone saw it


@dataclass
class _Recorder:
    """Playwright and CDP events in; pending requests out."""

    cap: int
    page: str = ""
    phase: str = NO_INTERACTION
    pending: dict[int, _Pending] = field(default_factory=dict)
    order: list[_Pending] = field(default_factory=list)
    initiators: dict[str, str] = field(default_factory=dict)  # url -> "script https://..."
    capped: bool = False
    crashed: bool = False
    loaded: bool = False

    def on_request(self, request: Any) -> None:
        if len(self.order) >= self.cap:
            self.capped = True
            return
        try:
            frame = request.frame.url
        except Exception:  # a service worker's request has no frame
            frame = ""
        source = request.redirected_from
        item = _Pending(
            url=request.url,
            method=request.method,
            resource_type=request.resource_type,
            page=self.page,
            phase=self.phase,
            when=utc_iso(time.time(), fraction=True),
            frame=frame if frame and frame != self.page else "",
            service_worker=request.service_worker is not None,
            redirected_from=source.url if source is not None else "",
        )
        self.pending[id(request)] = item
        self.order.append(item)

    def on_response(self, response: Any) -> None:
        item = self.pending.get(id(response.request))
        if item is not None:
            item.status = response.status

    def on_failed(self, request: Any) -> None:
        item = self.pending.get(id(request))
        if item is not None:
            item.failure = str(request.failure or "failed")

    def on_websocket(self, socket: Any) -> None:
        if len(self.order) >= self.cap:
            self.capped = True
            return
        self.order.append(
            _Pending(
                url=socket.url,
                method="GET",
                resource_type="websocket",
                page=self.page,
                phase=self.phase,
                when=utc_iso(time.time(), fraction=True),
                frame="",
                service_worker=False,
                redirected_from="",
            )
        )

    def on_cdp_request(self, params: dict[str, Any]) -> None:
        url = str((params.get("request") or {}).get("url") or "")
        if not url or url in self.initiators or len(self.initiators) > 2 * self.cap:
            return
        self.initiators[url] = _initiator_text(params.get("initiator") or {})

    def on_cdp_socket(self, params: dict[str, Any]) -> None:
        url = str(params.get("url") or "")
        if url and url not in self.initiators and len(self.initiators) <= 2 * self.cap:
            self.initiators[url] = _initiator_text(params.get("initiator") or {})


def _initiator_text(initiator: dict[str, Any]) -> str:
    kind = str(initiator.get("type") or "other")
    url = str(initiator.get("url") or "")
    if kind == "script" or not url:
        for frame in (initiator.get("stack") or {}).get("callFrames") or []:
            if frame.get("url"):
                return f"script {frame['url']}"
    if url:
        return f"{kind} {url}"
    return "navigation" if kind == "other" else kind


class _Robots:
    """robots.txt per origin, fetched through the browser context (and so the proxy)."""

    def __init__(self, context: Any, timeout: float) -> None:
        self.context = context
        self.timeout = timeout
        self.parsers: dict[str, RobotFileParser | None] = {}
        self.notes: list[str] = []

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.parsers:
            self.parsers[origin] = self._fetch(origin)
        parser = self.parsers[origin]
        return parser is None or parser.can_fetch(USER_AGENT_TOKEN, url)

    def _fetch(self, origin: str) -> RobotFileParser | None:
        parser = RobotFileParser()
        try:
            response = self.context.request.get(
                origin + "/robots.txt", timeout=self.timeout * 1000, max_redirects=3
            )
        except Exception as err:
            self.notes.append(f"{origin}/robots.txt: not read ({_first_line(err)}); crawled")
            return None
        if response.status in (401, 403):
            # as urllib.robotparser reads it: a robots.txt behind a login forbids everything
            parser.parse(["User-agent: *", "Disallow: /"])
            return parser
        if response.status >= 400:
            return None
        body = response.body()[: 512 * 1024].decode("utf-8", "replace")
        parser.parse(body.splitlines())
        return parser


def crawl_site(
    settings: CrawlSettings,
    lookup: Lookup,
    on_close: Callable[[], Awaitable[None]] | None = None,
) -> CrawlRecord:
    """Visit ``settings.url`` (and same-site links as asked) and record what was contacted.

    Raises ``CrawlError`` (one line) only when the crawl cannot start: no browser, no
    Playwright, a URL that is not http(s). A page that fails (unreachable, TLS error,
    crash, time box, request cap) becomes one line in ``problems``; the crawl goes on.
    """
    start_host = check_start_url(settings.url)
    executable = find_browser(settings.browser)
    api: Any = playwright_module()
    proxy = ResolvingProxy(lookup)
    proxy.start(on_close)
    started = utc_iso(time.time())
    try:
        with api.sync_playwright() as playwright:
            try:
                browser = playwright.chromium.launch(
                    executable_path=executable,
                    headless=True,
                    args=[*CHROMIUM_ARGS, *settings.browser_args],
                    proxy={"server": f"http://127.0.0.1:{proxy.port}", "bypass": "<-loopback>"},
                    chromium_sandbox=False,
                    timeout=60_000,
                )
            except api.Error as err:
                raise BrowserMissing(
                    f"{executable}: cannot start Chromium: {_first_line(err)}"
                ) from None
            try:
                return _crawl(settings, start_host, browser, proxy, started)
            finally:
                browser.close()
    finally:
        proxy.stop()


def _crawl(
    settings: CrawlSettings, start_host: str, browser: Any, proxy: ResolvingProxy, started: str
) -> CrawlRecord:
    version = browser.version
    user_agent = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{version} Safari/537.36 {USER_AGENT_TOKEN}/{__version__} (data-residency audit)"
    )
    context = browser.new_context(
        user_agent=user_agent, accept_downloads=False, service_workers="allow"
    )
    recorder = _Recorder(cap=settings.max_requests)
    context.on("request", recorder.on_request)
    context.on("response", recorder.on_response)
    context.on("requestfailed", recorder.on_failed)
    site = site_of(start_host)
    deadline = time.monotonic() + settings.crawl_timeout
    robots = _Robots(context, min(10.0, settings.page_timeout)) if settings.obey_robots else None
    wants_consent = bool(settings.consent or settings.consent_click)
    consent_done = ""
    pages: list[CrawlPage] = []
    problems: list[str] = []
    notes: list[str] = []
    queue: deque[tuple[str, int]] = deque([(urldefrag(settings.url).url, 0)])
    queued = {queue[0][0]}
    cap_reported = False
    while queue and len(pages) < settings.pages:
        if time.monotonic() >= deadline:
            problems.append(
                f"crawl time box ({settings.crawl_timeout:g} s) reached after {len(pages)} "
                f"page(s); {len(queue)} queued page(s) not visited"
            )
            break
        if recorder.capped:
            break
        url, depth = queue.popleft()
        if robots is not None and not robots.allowed(url):
            problems.append(f"{url}: disallowed by robots.txt for {USER_AGENT_TOKEN}; not visited")
            continue
        if consent_done:
            recorder.phase = consent_done
        else:
            recorder.phase = BEFORE_CONSENT if wants_consent else NO_INTERACTION
        page_record, page = _visit(context, recorder, proxy, url, depth, settings, deadline)
        links: list[str] = []
        try:
            if page is not None and not page_record.problem and not recorder.crashed:
                if wants_consent and not consent_done:
                    clicked, how = _consent(page, settings, recorder)
                    if clicked:
                        consent_done = after_consent(how)
                        recorder.phase = consent_done
                        notes.append(f"consent: clicked {clicked} on {url}")
                        _settle(page, recorder, settings.settle, deadline)
                    else:
                        problems.append(f"{url}: no consent button found ({how})")
                if depth < settings.depth and not recorder.capped:
                    links = _links(page, site)
        finally:
            if page is not None:
                # a crashed page may refuse to close; closing the context ends it
                with contextlib.suppress(Exception):
                    page.close()
        if recorder.capped and not cap_reported:
            cap_reported = True
            page_record = CrawlPage(
                page_record.url,
                page_record.final_url,
                page_record.title,
                page_record.depth,
                page_record.started,
                page_record.loaded,
                f"{url}: request cap ({settings.max_requests}) reached; the page was stopped "
                "and the crawl ended, later requests were not recorded",
            )
        pages.append(page_record)
        if page_record.problem:
            problems.append(page_record.problem)
        for link in links:
            if link not in queued and len(queued) < settings.pages * 20:
                queued.add(link)
                queue.append((link, depth + 1))
    context.close()
    if robots is not None:
        notes.extend(robots.notes)
    if proxy.dropped:
        notes.append(f"{proxy.dropped} further connections not recorded")
    requests = tuple(_freeze(item, recorder, proxy) for item in recorder.order)
    return CrawlRecord(
        start_url=settings.url,
        site=site,
        pages=tuple(pages),
        requests=requests,
        started=started,
        finished=utc_iso(time.time()),
        browser=f"Chromium {version}",
        user_agent=user_agent,
        consent=consent_done and next((n for n in notes if n.startswith("consent:")), ""),
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _freeze(item: _Pending, recorder: _Recorder, proxy: ResolvingProxy) -> CrawlRequest:
    parts = urlsplit(item.url)
    host = (parts.hostname or "").rstrip(".")
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        port = _DEFAULT_PORTS.get(scheme, 0)
    if item.initiator:
        initiator = item.initiator
    elif item.redirected_from:
        initiator = f"redirect from {item.redirected_from}"
    else:
        initiator = recorder.initiators.get(item.url, "")
        if not initiator and item.frame:
            initiator = f"frame {item.frame}"
        if not initiator and item.service_worker:
            initiator = "service worker"
    return CrawlRequest(
        url=item.url,
        host=host,
        method=item.method,
        resource_type=item.resource_type,
        page=item.page,
        phase=item.phase,
        initiator=initiator or "unknown",
        when=item.when,
        address=proxy.address_of(host, port) if host and port else None,
        status=item.status,
        failure=item.failure,
        redirected_from=item.redirected_from,
        frame=item.frame,
        service_worker=item.service_worker,
    )


def _visit(
    context: Any,
    recorder: _Recorder,
    proxy: ResolvingProxy,
    url: str,
    depth: int,
    settings: CrawlSettings,
    deadline: float,
) -> tuple[CrawlPage, Any]:
    """Load one page within its time box; the page stays open for the consent phase."""
    started = utc_iso(time.time())
    budget = max(0.5, min(settings.page_timeout, deadline - time.monotonic()))
    page_deadline = time.monotonic() + budget
    recorder.page = url
    recorder.loaded = False
    recorder.crashed = False
    first_connection = len(proxy.recorded())
    first_request = len(recorder.order)
    page = context.new_page()
    page.on("load", lambda *_: setattr(recorder, "loaded", True))
    page.on("crash", lambda *_: setattr(recorder, "crashed", True))
    page.on("websocket", recorder.on_websocket)
    try:
        cdp = context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", recorder.on_cdp_request)
        cdp.on("Network.webSocketCreated", recorder.on_cdp_socket)
        cdp.send("Network.enable")
    except Exception:  # initiators are evidence, not required: requests are still recorded
        pass
    host = urlsplit(url).hostname or ""
    problem = ""
    try:
        page.goto(url, wait_until="commit", timeout=budget * 1000)
    except Exception as err:
        problem = _navigation_problem(url, host, err, proxy, budget, recorder)
    if not problem:
        _settle_until_load(page, recorder, page_deadline)
        if recorder.crashed:
            problem = f"{url}: the page crashed the browser's renderer; requests before it are kept"
        elif not recorder.loaded and not recorder.capped:
            problem = (
                f"{url}: the page did not finish loading within {budget:g} s (time box); "
                "the requests made until then are recorded"
            )
        elif not recorder.capped:
            _settle(page, recorder, settings.settle, page_deadline)
    if recorder.crashed:
        _keep_proxy_only(recorder, proxy.recorded(first_connection), first_request)
    title = ""
    final_url = url
    if not problem and not recorder.crashed:
        try:
            final_url = page.url
            title = shorten(page.title(), 200)
        except Exception:
            pass
    record = CrawlPage(
        url=url,
        final_url=final_url,
        title=title,
        depth=depth,
        started=started,
        loaded=recorder.loaded,
        problem=problem,
    )
    return record, page


def _keep_proxy_only(recorder: _Recorder, connections: list[Any], first_request: int) -> None:
    """After a renderer crash, the browser's events for the requests in flight may never
    come; the proxy saw those connections all the same. Each host and port this page
    connected to that no recorded request names is kept, marked as seen by the proxy only
    (a tunnel's path is unknown: its URL is the origin alone)."""
    covered = set()
    for item in recorder.order[first_request:]:
        parts = urlsplit(item.url)
        try:
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
        except ValueError:
            continue
        covered.add(((parts.hostname or "").rstrip("."), port))
    for connection in connections:
        where = (connection.host, connection.port)
        if where in covered or len(recorder.order) >= recorder.cap:
            continue
        covered.add(where)
        host = f"[{connection.host}]" if ":" in connection.host else connection.host
        tunnel = connection.kind == "CONNECT"
        item = _Pending(
            url=connection.target or f"{'https' if tunnel else 'http'}://{host}:{connection.port}/",
            method=connection.method,
            resource_type="connection",
            page=recorder.page,
            phase=recorder.phase,
            when=connection.when,
            frame="",
            service_worker=False,
            redirected_from="",
            failure=connection.error,
            initiator="seen by the proxy only: the renderer crashed before the browser "
            "reported the request",
        )
        recorder.order.append(item)


def _navigation_problem(
    url: str, host: str, err: BaseException, proxy: ResolvingProxy, budget: float, recorder: Any
) -> str:
    if recorder.crashed:
        return f"{url}: the page crashed the browser's renderer; requests before it are kept"
    unreachable = proxy.failure_of(host)
    if unreachable:
        return f"{url}: site unreachable: {shorten(unreachable, 200)}"
    text = _first_line(err)
    if "Timeout" in text or "timeout" in text:
        return f"{url}: no response within {budget:g} s (time box)"
    if "ERR_CERT" in text or "ERR_SSL" in text:
        return f"{url}: TLS error: {text}"
    return f"{url}: {text}"


def _settle_until_load(page: Any, recorder: _Recorder, page_deadline: float) -> None:
    """Until "load", the time box, a crash or the cap; woken by "load" itself, and at
    least every ``_CHECK_MS`` to look at the cap and the crash flag."""
    while not recorder.loaded and not recorder.crashed and not recorder.capped:
        left = page_deadline - time.monotonic()
        if left <= 0:
            return
        try:
            page.wait_for_load_state("load", timeout=max(1.0, min(left * 1000, _CHECK_MS)))
            recorder.loaded = True
        except Exception:  # not loaded yet (timeout), or the page went away (crash)
            if page.is_closed():
                recorder.crashed = True
                return


def _settle(page: Any, recorder: _Recorder, seconds: float, deadline: float) -> None:
    """Keep recording a little after load: beacons and lazy loads come then."""
    end = min(time.monotonic() + seconds, deadline)
    while time.monotonic() < end and not recorder.crashed and not recorder.capped:
        try:
            page.wait_for_timeout(_POLL_MS)
        except Exception:
            return


def _consent(page: Any, settings: CrawlSettings, recorder: _Recorder) -> tuple[str, str]:
    """Click the consent button: (what was clicked, how), or ("", why not)."""
    if settings.consent_click:
        selector = settings.consent_click
        if _click_in_frames(page, selector, recorder, after_consent("click")):
            return f"--consent-click {selector}", "click"
        return "", f"--consent-click {selector} matched no visible element"
    choice = settings.consent or "accept"
    platforms, version = consent_platforms()
    for platform in platforms:
        for frame in page.frames:
            try:
                present = frame.query_selector(platform.detect) is not None
            except Exception:
                present = False
            if present and _click_in_frames(
                page, platform.button(choice), recorder, after_consent(choice)
            ):
                return f"{platform.name} {choice} ({platform.button(choice)})", choice
    return "", f"no banner of the {len(platforms)} platforms in the table (version {version})"


def _click_in_frames(page: Any, selector: str, recorder: _Recorder, phase: str) -> bool:
    """Click the first visible match; requests from the click on belong to ``phase``."""
    before = recorder.phase
    for frame in page.frames:
        try:
            for handle in frame.query_selector_all(selector)[:5]:
                if handle.is_visible():
                    recorder.phase = phase  # the click's own requests come during click()
                    handle.click(timeout=3000, no_wait_after=True)
                    return True
        except Exception:  # a frame that went away, a selector the engine refuses
            recorder.phase = before
            continue
    return False


def _links(page: Any, site: str) -> list[str]:
    try:
        found = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    except Exception:
        return []
    links: list[str] = []
    for href in found[:MAX_LINKS_PER_PAGE]:
        if not isinstance(href, str):
            continue
        link = urldefrag(href).url
        if same_site(link, site) and link not in links:
            links.append(link)
    return links
