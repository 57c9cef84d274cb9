"""The parts of a crawl that need no browser: URL checks, the resolving proxy, the record
as endpoints and as HAR, the consent table, the report's crawl section."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from residency.endpoints import read_input
from residency.endpoints.crawl import BadCrawlUrl, BrowserMissing, CrawlSettings
from residency.endpoints.crawl.browser import find_browser
from residency.endpoints.crawl.consent import consent_platforms
from residency.endpoints.crawl.har import crawl_har
from residency.endpoints.crawl.proxy import ResolvingProxy
from residency.endpoints.crawl.record import (
    BEFORE_CONSENT,
    CrawlPage,
    CrawlRecord,
    CrawlRequest,
    after_consent,
)
from residency.endpoints.crawl.targets import crawl_targets
from residency.model import Endpoint, ObservedAddress
from residency.report.html_report import HtmlFormatter
from tests.report.sample import unjudged


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/", "only http(s) URLs are crawled, not ftp"),
        ("chrome://crash", "only http(s) URLs are crawled, not chrome"),
        ("javascript:alert(1)", "only http(s) URLs are crawled, not javascript"),
        ("example.com", "only http(s) URLs are crawled, not no scheme"),
        ("http:///path", "the URL has no host name"),
        ("http://[::1/", "not a URL"),
    ],
)
def test_only_http_urls_with_a_host_are_crawled(url: str, why: str) -> None:
    with pytest.raises(BadCrawlUrl) as caught:
        CrawlSettings.start(url)
    assert caught.value.reason.startswith(why)
    assert "\n" not in str(caught.value)


def test_no_browser_is_one_line_naming_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BrowserMissing, match="apt-get install chromium"):
        find_browser()
    with pytest.raises(BrowserMissing, match="--browser /no/such/chromium: not an executable"):
        find_browser("/no/such/chromium")


def test_every_consent_platform_names_its_source_and_both_buttons() -> None:
    platforms, version = consent_platforms()
    names = {p.name for p in platforms}
    assert {"OneTrust", "Cookiebot", "Didomi", "Usercentrics", "Quantcast Choice"} <= names
    assert {"TrustArc", "Sourcepoint"} <= names
    assert version
    for platform in platforms:
        assert platform.detect and platform.accept and platform.reject and platform.source


# ------------------------------------------------------------------ the proxy


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = f"{self.headers.get('Host')} {self.path} {self.headers.get('Connection')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> object:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _proxy(answers: dict[str, list[str]]) -> ResolvingProxy:
    asked: list[str] = []

    async def lookup(host: str) -> tuple[list[str], str]:
        asked.append(host)
        await asyncio.sleep(0)
        if host in answers:
            return answers[host], ""
        return [], f"{host} did not resolve (nxdomain)"

    proxy = ResolvingProxy(lookup, connect_timeout=2)
    proxy.asked = asked  # type: ignore[attr-defined]
    proxy.start()
    return proxy


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if data.startswith(b"CONNECT") and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


def test_plain_http_goes_to_the_address_residency_resolved(origin: ThreadingHTTPServer) -> None:
    port = origin.server_address[1]
    proxy = _proxy({"shop.example": ["127.0.0.1"]})
    try:
        request = (
            f"GET http://shop.example:{port}/a?b=1 HTTP/1.1\r\nHost: shop.example:{port}\r\n"
            "Proxy-Connection: keep-alive\r\n\r\n"
        )
        reply = _exchange(proxy.port, request.encode())
        assert reply.startswith(b"HTTP/1.0 200") or reply.startswith(b"HTTP/1.1 200")
        assert reply.endswith(f"shop.example:{port} /a?b=1 close".encode())
        assert proxy.address_of("shop.example", port) == "127.0.0.1"
        # a second request is not resolved again: one answer per name per crawl
        _exchange(proxy.port, request.encode())
        assert proxy.asked == ["shop.example"]  # type: ignore[attr-defined]
    finally:
        proxy.stop()


def test_connect_tunnels_and_failures_are_recorded(origin: ThreadingHTTPServer) -> None:
    port = origin.server_address[1]
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    proxy = _proxy({"api.example": ["127.0.0.1"], "down.example": ["127.0.0.1"]})
    try:
        ok = _exchange(proxy.port, f"CONNECT api.example:{port} HTTP/1.1\r\n\r\n".encode())
        assert ok.startswith(b"HTTP/1.1 200")
        missing = _exchange(proxy.port, b"CONNECT gone.example:443 HTTP/1.1\r\n\r\n")
        assert missing.startswith(b"HTTP/1.1 502")
        down = _exchange(proxy.port, f"CONNECT down.example:{closed} HTTP/1.1\r\n\r\n".encode())
        assert down.startswith(b"HTTP/1.1 502")
        assert _exchange(proxy.port, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")
        assert _exchange(proxy.port, b"GET ftp://x/ HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")
        assert proxy.address_of("api.example", port) == "127.0.0.1"
        assert proxy.failure_of("gone.example") == "gone.example did not resolve (nxdomain)"
        assert proxy.failure_of("down.example") == (
            f"cannot connect to 127.0.0.1 port {closed}: connection refused"
        )
        assert {c.kind for c in proxy.recorded()} == {"CONNECT"}
    finally:
        proxy.stop()


# ------------------------------------------------------------------ the record


def _request(host: str, phase: str, address: str | None, **more: object) -> CrawlRequest:
    return CrawlRequest(
        url=f"https://{host}/x",
        host=host,
        method="GET",
        resource_type=str(more.pop("kind", "script")),
        page="https://www.shop.example.com/",
        phase=phase,
        initiator=str(more.pop("initiator", "parser https://www.shop.example.com/")),
        when="2026-12-07T10:00:00.000000Z",
        address=address,
        **more,  # type: ignore[arg-type]
    )


RECORD = CrawlRecord(
    start_url="https://www.shop.example.com/",
    site="example.com",
    pages=(
        CrawlPage(
            "https://www.shop.example.com/", "https://www.shop.example.com/", "Shop", 0, "t", True
        ),
    ),
    requests=(
        _request("www.shop.example.com", BEFORE_CONSENT, "192.0.2.1", kind="document"),
        _request("cdn.example.net", BEFORE_CONSENT, "192.0.2.2"),
        _request("cdn.example.net", BEFORE_CONSENT, "192.0.2.2", kind="image"),
        _request(
            "ads.<script>.example.org",
            after_consent("accept"),
            "198.51.100.7",
            initiator="script https://cdn.example.net/x",
        ),
        _request("blocked.example.net", BEFORE_CONSENT, None, failure="net::ERR_FAILED"),
    ),
    started="t",
    finished="t",
    browser="Chromium 156",
    user_agent="ua residency/0.1.0",
    consent="consent: clicked OneTrust accept",
    problems=("https://www.shop.example.com/old: TLS error: net::ERR_CERT_DATE_INVALID",),
)


def test_a_crawl_becomes_one_endpoint_per_host_with_page_phase_and_party() -> None:
    # "ads.<script>..." is not a host name: it is an input problem, never markup
    targets = crawl_targets(RECORD)
    hosts = {e.host: e for e in targets.endpoints}
    assert set(hosts) == {"www.shop.example.com", "cdn.example.net", "blocked.example.net"}
    cdn = hosts["cdn.example.net"].observed
    assert [(o.ip, o.party, o.phase) for o in cdn] == [("192.0.2.2", "third party", BEFORE_CONSENT)]
    assert "2 requests (script, image)" in cdn[0].context
    assert cdn[0].page_title == "Shop"  # the page's title, kept as evidence
    assert hosts["www.shop.example.com"].observed[0].party == "first party"
    assert hosts["blocked.example.net"].observed == ()
    problems = [(p.entry, p.origin, p.problem) for p in targets.problems]
    assert (
        "https://www.shop.example.com/old",
        "--crawl",
        "TLS error: net::ERR_CERT_DATE_INVALID",
    ) in (problems)
    assert any("only after consent: ads.<script>.example.org" in n for n in targets.notes)


def test_a_crawl_written_as_har_reads_back_with_its_addresses(tmp_path: Path) -> None:
    import json

    path = tmp_path / "site.har"
    path.write_text(json.dumps(crawl_har(RECORD), indent=1))  # as `residency crawl -o` writes
    targets = read_input(path)
    seen = {e.host: {o.ip for o in e.observed} for e in targets.endpoints}
    assert seen["cdn.example.net"] == {"192.0.2.2"}
    assert seen["www.shop.example.com"] == {"192.0.2.1"}
    # the crawl it records, as --crawl gave it: page, title, phase, party, initiator
    direct = {e.host: e.observed for e in crawl_targets(RECORD).endpoints}
    back = {e.host: e.observed for e in targets.endpoints}
    assert {h: [replace(o, context="") for o in seen] for h, seen in back.items()} == {
        h: [replace(o, context="") for o in seen] for h, seen in direct.items()
    }
    assert back["cdn.example.net"][0].page_title == "Shop"
    # the crawl's own problems were reported when it ran: read back, they are notes
    assert [p.entry for p in targets.problems] == ["ads.<script>.example.org"]  # not a name
    assert any(
        "the crawl reported: https://www.shop.example.com/old: TLS error" in n
        for n in targets.notes
    )


def test_a_har_that_only_claims_to_be_a_crawl_is_read_as_any_har(tmp_path: Path) -> None:
    import json

    document = crawl_har(RECORD)
    for entry in document["log"]["entries"]:
        del entry["_phase"]  # not what residency crawl writes: an ordinary HAR
    path = tmp_path / "claims.har"
    path.write_text(json.dumps(document, indent=1))
    targets = read_input(path)
    assert {o.ip for e in targets.endpoints for o in e.observed} == {"192.0.2.1", "192.0.2.2"}
    assert all(not o.page for e in targets.endpoints for o in e.observed)


def test_the_html_report_shows_the_crawl_by_page_and_phase_escaped() -> None:
    result = unjudged()
    first = result.endpoints[0]
    hostile = "<img src=x onerror=alert(1)>"
    seen = ObservedAddress(
        ip="192.0.2.9",
        context="crawl page",
        page=f"https://www.shop.example.com/{hostile}",
        phase=after_consent("accept"),
        party="third party",
        initiator=f"script https://cdn.example.net/{hostile}",
    )
    endpoint = Endpoint(host=first.endpoint.host, display=first.endpoint.display, observed=(seen,))
    result = replace(result, endpoints=(replace(first, endpoint=endpoint), *result.endpoints[1:]))
    page = HtmlFormatter().render(result)
    assert "Crawl: by page and consent phase" in page
    assert hostile not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "only after consent" in page
    assert "Crawl: by page" not in HtmlFormatter().render(unjudged())


def test_after_a_crash_the_proxys_connections_keep_what_the_browser_never_reported() -> None:
    """A renderer crash can swallow the browser's events for requests in flight; the
    proxy's connections from that page fill the gap, once per host and port, and never
    repeat what the browser did report."""
    from residency.endpoints.crawl.crawler import _keep_proxy_only, _Pending, _Recorder
    from residency.endpoints.crawl.proxy import Connection

    recorder = _Recorder(cap=10, page="http://www.example.com/crash")
    recorder.order.append(
        _Pending(
            "http://www.example.com/crash", "GET", "document", recorder.page, "", "", "", False, ""
        )
    )

    def http(host: str, path: str, second: int) -> Connection:
        when = f"2026-12-07T00:00:0{second}Z"
        return Connection(
            host, 80, "127.0.0.1", when, "http", target=f"http://{host}{path}", method="GET"
        )

    seen = [
        http("www.example.com", "/crash", 0),  # the browser reported it
        http("static.example.com", "/a.gif", 1),
        http("static.example.com", "/b.gif", 1),  # the same host and port: kept once
        Connection("t.example.net", 443, None, "2026-12-07T00:00:02Z", "CONNECT", "refused"),
    ]
    _keep_proxy_only(recorder, seen, 0)
    added = recorder.order[1:]
    assert [(i.url, i.method, i.resource_type, i.failure) for i in added] == [
        ("http://static.example.com/a.gif", "GET", "connection", ""),
        ("https://t.example.net:443/", "CONNECT", "connection", "refused"),
    ]
    assert all(i.initiator.startswith("seen by the proxy only") for i in added)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("[" * 100_000, "HAR file is not JSON"),
        ('{"log": {"entries": [', "HAR file is not JSON"),
    ],
)
def test_a_hostile_har_claiming_to_be_a_crawl_is_one_line(
    tmp_path: Path, body: str, why: str
) -> None:
    from residency.endpoints.errors import InputUnreadable

    path = tmp_path / "claims.har"
    path.write_text('{"log": {"creator": {"name": "residency"}, "x": ' + body)
    with pytest.raises(InputUnreadable, match=why) as caught:
        read_input(path)
    assert "\n" not in str(caught.value)


def test_a_crawl_har_over_its_bound_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from residency.endpoints import har
    from residency.endpoints.errors import InputUnreadable

    monkeypatch.setattr(har, "MAX_CRAWL_HAR", 1000)
    path = tmp_path / "big.har"
    path.write_text(json.dumps(crawl_har(RECORD), indent=1))
    with pytest.raises(InputUnreadable, match="a crawl HAR over 1000 bytes"):
        read_input(path)
