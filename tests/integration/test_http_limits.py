"""residency.http against a real HTTP server on 127.0.0.1: every limit it owns."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler

import pytest

from residency.http import (
    USER_AGENT,
    Fetcher,
    FetchFailed,
    FetchRefused,
    FetchTimedOut,
    FetchTooLarge,
    Limits,
    address_refusal,
    follow_any,
    system_resolver,
)
from tests.integration.feedserver import FeedServer, send

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _hosts(mapping: dict[str, str]):  # type: ignore[no-untyped-def]
    """A resolver seam: names in ``mapping`` resolve to their address, others as usual."""

    def resolve(host: str, port: int) -> Sequence[str]:
        if host in mapping:
            return (mapping[host],)
        return system_resolver(host, port)

    return resolve


def _redirect(location: str):  # type: ignore[no-untyped-def]
    def route(handler: BaseHTTPRequestHandler, server: FeedServer) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def _drip(handler: BaseHTTPRequestHandler, server: FeedServer) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(100000):
        if server.stopped.is_set():
            return
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.05)


def _drip_header(handler: BaseHTTPRequestHandler, server: FeedServer) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(10000):
        if server.stopped.is_set():
            return
        handler.wfile.write(b"X")
        handler.wfile.flush()
        time.sleep(0.05)


def _gzip_bomb(handler: BaseHTTPRequestHandler, server: FeedServer) -> None:
    body = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    handler.send_response(200)
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _gzip_small(handler: BaseHTTPRequestHandler, server: FeedServer) -> None:
    body = gzip.compress(b"hello, " * 100)
    handler.send_response(200)
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class _Flaky:
    """429 with a Retry-After, then 503, then the answer; counts the requests."""

    def __init__(self, retry_after: str = "0") -> None:
        self.calls = 0
        self.retry_after = retry_after
        self.lock = threading.Lock()

    def __call__(self, handler: BaseHTTPRequestHandler, server: FeedServer) -> None:
        with self.lock:
            self.calls += 1
            calls = self.calls
        if calls == 1:
            handler.send_response(429)
            handler.send_header("Retry-After", self.retry_after)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif calls == 2:
            send(handler, 503, b"busy", "text/plain")
        else:
            send(handler, 200, b"done", "text/plain")


def _echo_agent(handler: BaseHTTPRequestHandler, server: FeedServer) -> None:
    send(handler, 200, handler.headers.get("User-Agent", "").encode(), "text/plain")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    flaky = _Flaky()
    slow = _Flaky(retry_after="3600")
    srv = FeedServer(
        {
            "/ok": lambda h, s: send(h, 200, b"hello", "text/plain"),
            "/agent": _echo_agent,
            "/big": lambda h, s: send(h, 200, b"y" * 5000, "text/plain"),
            "/drip": _drip,
            "/drip-header": _drip_header,
            "/bomb": _gzip_bomb,
            "/gz": _gzip_small,
            "/flaky": flaky,
            "/slow-retry": slow,
        }
    )
    srv.flaky = flaky  # type: ignore[attr-defined]
    srv.slow = slow  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        srv.stop()


def _local(**kwargs: object) -> Fetcher:
    return Fetcher(local=True, **kwargs)  # type: ignore[arg-type]


def test_plain_fetch_sends_the_one_user_agent(server: FeedServer) -> None:
    with _local() as fetcher:
        got = fetcher.get(server.url("/agent"), Limits())
    assert got.status_code == 200
    assert got.body.decode() == USER_AGENT


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0"])
def test_numeric_forms_of_loopback_are_refused(server: FeedServer, host: str) -> None:
    with Fetcher() as fetcher, pytest.raises(FetchRefused) as caught:
        fetcher.get(f"http://{host}:{server.port}/ok", Limits(deadline=5))
    assert "refused" in caught.value.reason
    assert server.requests == []


def test_a_name_resolving_to_loopback_is_refused(server: FeedServer) -> None:
    resolver = _hosts({"feed.example": "127.0.0.1"})
    with Fetcher(resolver=resolver) as fetcher, pytest.raises(FetchRefused) as caught:
        fetcher.get(server.url("/ok", host="feed.example"), Limits(deadline=5))
    assert "127.0.0.1" in caught.value.reason and "loopback" in caught.value.reason
    assert server.requests == []


def test_the_connection_goes_to_the_checked_address(server: FeedServer) -> None:
    """The name is resolved once by the seam and the connection goes there; Host stays the
    name (local=True so that 127.0.0.1 may be reached at all)."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return ("127.0.0.1",)

    with Fetcher(local=True, resolver=resolve) as fetcher:
        got = fetcher.get(server.url("/ok", host="feed.example"), Limits(deadline=5))
    assert got.body == b"hello"
    assert calls == ["feed.example"]


def test_a_trusted_url_may_be_local_but_its_redirects_may_not(server: FeedServer) -> None:
    other = FeedServer({"/x": lambda h, s: send(h, 200, b"private", "text/plain")})
    try:
        server.routes["/hop"] = _redirect(other.url("/x"))
        with Fetcher() as fetcher:
            assert fetcher.get(server.url("/ok"), Limits(), trusted=True).body == b"hello"
            with pytest.raises(FetchRefused) as caught:
                fetcher.get(server.url("/hop"), Limits(), trusted=True, redirects=follow_any)
        assert "loopback" in caught.value.reason
        assert other.requests == []
    finally:
        other.stop()


def test_redirect_to_a_private_address_is_refused(server: FeedServer) -> None:
    server.routes["/to-private"] = _redirect("http://10.0.0.1/feed.csv")
    resolver = _hosts({"public.example": "127.0.0.1"})
    # public.example is trusted (its own host and port); the redirect's target is not
    with Fetcher(resolver=resolver) as fetcher, pytest.raises(FetchRefused) as caught:
        fetcher.get(
            server.url("/to-private", host="public.example"),
            Limits(deadline=5),
            trusted=True,
            redirects=follow_any,
        )
    assert "10.0.0.1" in caught.value.reason and "private" in caught.value.reason


def test_the_redirect_rule_is_a_parameter(server: FeedServer) -> None:
    server.routes["/away"] = _redirect("http://elsewhere.example/x")
    with _local() as fetcher, pytest.raises(FetchRefused) as caught:
        fetcher.get(server.url("/away"), Limits())
    assert "another host" in caught.value.reason


def test_size_cap_announced_and_while_reading(server: FeedServer) -> None:
    with _local() as fetcher:
        with pytest.raises(FetchTooLarge) as announced:
            fetcher.get(server.url("/big"), Limits(max_bytes=1000))
        assert "announced" in announced.value.reason
        with pytest.raises(FetchTooLarge):
            fetcher.get(server.url("/bomb"), Limits(max_bytes=1024 * 1024))


def test_gzip_is_decoded_and_a_bomb_is_counted_decompressed(server: FeedServer) -> None:
    with _local() as fetcher:
        assert fetcher.get(server.url("/gz"), Limits()).body == b"hello, " * 100
        with pytest.raises(FetchTooLarge) as caught:
            # the compressed body (~65 kB) is well under the cap; decompressed it is 64 MiB
            fetcher.get(server.url("/bomb"), Limits(max_bytes=4 * 1024 * 1024))
    assert "decoded" in caught.value.reason


def test_a_dripping_body_ends_at_the_deadline(server: FeedServer) -> None:
    with _local() as fetcher, pytest.raises(FetchTimedOut) as caught:
        fetcher.get(server.url("/drip"), Limits(deadline=1.5, read_timeout=30))
    assert "1.5s" in caught.value.reason


def test_a_dripping_header_ends_at_the_deadline(server: FeedServer) -> None:
    with _local() as fetcher, pytest.raises(FetchTimedOut):
        fetcher.get(server.url("/drip-header"), Limits(deadline=1.5, read_timeout=30))


def test_429_then_503_are_retried_with_backoff(server: FeedServer) -> None:
    waits: list[float] = []
    with _local(sleep=waits.append) as fetcher:
        got = fetcher.get(server.url("/flaky"), Limits(retries=3, backoff=0.5))
    assert got.body == b"done"
    assert server.flaky.calls == 3  # type: ignore[attr-defined]
    assert waits == [0.0, 1.0]  # Retry-After: 0, then the backoff's second step


def test_a_retry_after_past_the_bound_is_not_waited_for(server: FeedServer) -> None:
    waits: list[float] = []
    with _local(sleep=waits.append) as fetcher:
        got = fetcher.get(server.url("/slow-retry"), Limits(retries=3, max_retry_wait=10))
    assert got.status_code == 429
    assert waits == []
    assert server.slow.calls == 1  # type: ignore[attr-defined]


def test_unreachable_is_a_failure_not_a_hang() -> None:
    with _local() as fetcher, pytest.raises(FetchFailed):
        fetcher.get("http://127.0.0.1:9/", Limits(deadline=5))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1", True),
        ("127.0.0.1", False),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("2002:7f00:1::", False),
        ("224.0.0.1", False),
    ],
)
def test_address_rule(address: str, public: bool) -> None:
    assert (address_refusal(address) is None) is public
