"""Crawls in Debian's Chromium through residency's proxy, against a local site named by a
real Knot zone: every name is audited with the address the browser really connected to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from residency.cli import cli
from residency.endpoints import read_input
from residency.endpoints.crawl import CrawlRecord, CrawlSettings
from residency.endpoints.crawl.lookup import crawl_with_resolver
from residency.endpoints.crawl.targets import crawl_targets
from residency.resolve.engine import ChainResolver, ResolverSettings
from tests.integration.crawlsite import NAMES, THIRD_PARTIES, Site, site_zones
from tests.integration.dnsserver import KnotServer, start_server
from tests.probe.certs import Authority
from tests.support import SHARED_DATA, require_binary, unavailable

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def browser() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the Python package playwright is not installed (residency[crawl])")
    return require_binary("chromium", "chromium-headless-shell")


@pytest.fixture(scope="module")
def dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnotServer]:
    server = start_server(tmp_path_factory.mktemp("crawl-knot"), site_zones())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    authority = Authority(tmp_path_factory.mktemp("crawl-ca"))
    leaf = authority.leaf("secure", ["secure.example.com"])  # signed by a CA no one trusts
    running = Site().start(leaf.cert, leaf.key)
    try:
        yield running
    finally:
        running.stop()


def crawl(dns: KnotServer, browser: str, url: str, **options: object) -> CrawlRecord:
    options.setdefault("settle", 0.5)
    settings = CrawlSettings(url=url, browser=browser, **options)  # type: ignore[arg-type]
    resolver = ChainResolver(ResolverSettings(nameservers=(dns.address,)))
    try:
        return crawl_with_resolver(settings, resolver)
    finally:
        resolver.close()


def test_every_name_is_recorded_with_the_address_the_browser_reached(
    dns: KnotServer, site: Site, browser: str
) -> None:
    site.hits.clear()
    record = crawl(dns, browser, site.url("www.example.com"), pages=3, depth=1, consent="accept")
    assert record.problems == ()
    by_host: dict[str, set[str | None]] = {}
    for request in record.requests:
        by_host.setdefault(request.host, set()).add(request.address)
    for name in ("www.example.com", *THIRD_PARTIES, "tracker.example.org", "ws.example.net"):
        # the proxy's record, and the server's own view of the connection, agree with DNS
        assert by_host[name] == {NAMES[name]}, name
        assert (name, NAMES[name]) in {(host, address) for host, _, address in site.hits}
    kinds = {r.host: r.resource_type for r in record.requests if r.host in THIRD_PARTIES}
    assert kinds == {
        "cdn.example.net": "script",
        "img.example.org": "image",
        "frame.example.net": "document",
        "beacon.example.org": "fetch",
    }
    # XHR, a beacon and a WebSocket: each recorded with the address its connection reached
    first_party = {r.resource_type for r in record.requests if r.host == "static.example.com"}
    assert {"xhr", "ping"} <= first_party
    socket = [r for r in record.requests if r.resource_type == "websocket"]
    assert [(r.host, r.address) for r in socket] == [("ws.example.net", NAMES["ws.example.net"])]
    assert socket[0].initiator.startswith("script ")
    front = site.url("www.example.com")
    initiators = {r.host: r.initiator for r in record.requests}
    assert initiators["img.example.org"] == f"parser {front}"
    assert initiators["beacon.example.org"].startswith("script ")
    # the consent phase: the tracker is loaded only by the banner's accept button
    assert record.only_after_consent() == ("tracker.example.org",)
    assert "OneTrust accept" in record.consent
    # the redirect is followed and recorded as such
    moved = [r for r in record.requests if r.url.endswith("/new")]
    assert moved and moved[0].redirected_from == site.url("www.example.com", "/old")
    # only the named site is visited: the link to elsewhere.example.net is not followed
    assert "elsewhere.example.net" not in by_host


def test_the_audit_judges_the_addresses_the_browser_connected_to(
    dns: KnotServer, site: Site, browser: str, tmp_path: Path
) -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data absent")
    from tests.locate.fixtures import imported_dataset

    (tmp_path / "data").mkdir()
    data = imported_dataset(tmp_path / "data")
    report = tmp_path / "report.json"
    bad_scheme = "ftp://www.example.com/"
    unreachable = f"http://down.example.com:{site.down_port}/"
    tls = f"https://secure.example.com:{site.tls_port}/"
    result = CliRunner().invoke(
        cli,
        [
            "audit",
            "--crawl", site.url("www.example.com"),
            "--crawl", bad_scheme,
            "--crawl", unreachable,
            "--crawl", tls,
            "--consent", "accept",
            "--browser", browser,
            "--settle", "0.5",
            "--nameserver", dns.address,
            "--data-dir", str(data),
            "--format", "json",
            "-o", str(report),
        ],
    )  # fmt: skip
    assert result.exit_code == 2, result.output  # input problems; the rest is audited
    lines = [line for line in result.stderr.splitlines() if line.startswith("residency: ")]
    assert any(bad_scheme in line and "only http(s)" in line for line in lines)
    assert any(
        "site unreachable" in line and "connection refused" in line.lower() for line in lines
    )
    assert any("TLS error" in line and "ERR_CERT" in line for line in lines)
    assert all("Traceback" not in line for line in result.stderr.splitlines())
    document = json.loads(report.read_text())
    endpoints = {e["host"]: e for e in document["endpoints"]}
    for name in ("www.example.com", *THIRD_PARTIES, "tracker.example.org"):
        observed = endpoints[name]["observed"]
        assert {o["ip"] for o in observed} == {NAMES[name]}
        assert {a["ip"] for a in endpoints[name]["addresses"]} >= {NAMES[name]}
    tracker = endpoints["tracker.example.org"]["observed"][0]
    assert tracker["phase"] == "after consent (accept)"
    assert tracker["party"] == "third party"
    assert endpoints["www.example.com"]["observed"][0]["party"] == "first party"
    assert tracker["page_title"] == "Shop"  # the start page's <title>, kept as evidence


def test_a_page_that_never_finishes_loading_is_cut_at_its_time_box(
    dns: KnotServer, site: Site, browser: str
) -> None:
    record = crawl(dns, browser, site.url("www.example.com", "/hang"), page_timeout=3)
    assert len(record.problems) == 1 and "time box" in record.problems[0]
    assert "static.example.com" in {r.host for r in record.requests}


def test_a_page_opening_ten_thousand_requests_stops_at_the_cap(
    dns: KnotServer, site: Site, browser: str
) -> None:
    record = crawl(dns, browser, site.url("www.example.com", "/flood"), max_requests=150)
    assert len(record.requests) == 150
    assert any("request cap (150)" in p for p in record.problems)
    targets = crawl_targets(record)
    assert [e.host for e in targets.endpoints] == ["www.example.com"]


def test_a_crashed_renderer_is_one_line_and_keeps_what_came_before(
    dns: KnotServer, site: Site, browser: str
) -> None:
    record = crawl(dns, browser, site.url("www.example.com", "/crash"), page_timeout=20)
    assert any("crashed the browser's renderer" in p for p in record.problems)
    assert {"www.example.com", "static.example.com"} <= {r.host for r in record.requests}


def test_a_service_workers_own_requests_are_recorded(
    dns: KnotServer, site: Site, browser: str
) -> None:
    # service workers need a secure context; this plain-http test site is declared one
    origin = site.url("www.example.com", "")
    record = crawl(
        dns,
        browser,
        site.url("www.example.com", "/offline"),
        settle=3.0,
        browser_args=(f"--unsafely-treat-insecure-origin-as-secure={origin}",),
    )
    worker = [r for r in record.requests if r.host == "sw.example.net"]
    assert worker and all(r.service_worker for r in worker)
    assert {r.address for r in worker} == {NAMES["sw.example.net"]}


def test_robots_txt_is_obeyed_unless_told_otherwise(
    dns: KnotServer, site: Site, browser: str
) -> None:
    private = site.url("www.example.com", "/private")
    record = crawl(dns, browser, private)
    assert record.requests == ()
    assert record.problems == (f"{private}: disallowed by robots.txt for residency; not visited",)
    record = crawl(dns, browser, private, obey_robots=False)
    assert [r.url for r in record.requests] == [private]


def test_crawl_command_writes_a_har_that_audit_reads_back(
    dns: KnotServer, site: Site, browser: str, tmp_path: Path
) -> None:
    har = tmp_path / "site.har"
    result = CliRunner().invoke(
        cli,
        [
            "crawl", site.url("www.example.com"),
            "-o", str(har),
            "--browser", browser,
            "--settle", "0.5",
            "--nameserver", dns.address,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "requests to" in result.stderr and "third party" in result.stderr
    targets = read_input(har, "har")
    seen = {e.host: {o.ip for o in e.observed} for e in targets.endpoints}
    for name in ("www.example.com", *THIRD_PARTIES):
        assert seen[name] == {NAMES[name]}
    # read back, it is the crawl: each address with its page, title, phase and party
    www = next(e for e in targets.endpoints if e.host == "www.example.com").observed[0]
    assert (www.page, www.page_title, www.phase, www.party) == (
        site.url("www.example.com"),
        "Shop",
        "no interaction",
        "first party",
    )
    document = json.loads(har.read_text())
    assert document["log"]["creator"]["name"] == "residency"
    assert {e["_phase"] for e in document["log"]["entries"]} == {"no interaction"}


def test_crawl_command_without_a_browser_says_so_and_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["crawl", "http://www.example.com/", "--browser", str(tmp_path / "none")]
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "apt-get install chromium" in result.stderr
