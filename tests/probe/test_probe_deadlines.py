"""One deadline per probe, checked on every turn, and the stage's time box (issue 18, item 15).

Hostile HTTPS servers on 127.0.0.1 (threads): a ``100 Continue`` flood, a header dripped a
byte at a time, a GET after a 405 that drips. No timed assertions: each run must end
(pytest-timeout is the guard) and say what happened.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from residency.model import Confidence, Endpoint, EndpointResult, IpFacts, Location, ProbeResult
from residency.probe import ConnectTo, Prober, ProbeSettings, http_edge
from tests.probe.certs import Authority
from tests.support import accept_until

pytestmark = pytest.mark.timeout(60)

HOST = "edge.example"
Behaviour = Callable[[ssl.SSLSocket, bytes, threading.Event], None]


def _flood(tls: ssl.SSLSocket, head: bytes, stop: threading.Event) -> None:
    burst = b"HTTP/1.1 100 Continue\r\n\r\n" * 200
    while not stop.is_set():
        tls.sendall(burst)


def _drip(tls: ssl.SSLSocket, head: bytes, stop: threading.Event) -> None:
    tls.sendall(b"HTTP/1.1 200 OK\r\n")
    while not stop.is_set():
        tls.sendall(b"X")
        time.sleep(0.05)


def _drip_get_after_405(tls: ssl.SSLSocket, head: bytes, stop: threading.Event) -> None:
    if head.startswith(b"HEAD"):
        tls.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        return
    _drip(tls, head, stop)


@contextmanager
def hostile(tmp_path: Path, behaviour: Behaviour) -> Iterator[int]:
    ca = Authority(tmp_path)
    pair = ca.leaf("edge", [HOST])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert, pair.key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            with context.wrap_socket(conn, server_side=True) as tls:
                while True:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = tls.recv(4096)
                        if not chunk:
                            return
                        head += chunk
                    behaviour(tls, head, stop)
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(
        target=accept_until, args=(listener, stop, serve), kwargs={"threaded": True}, daemon=True
    )
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _endpoint(n: int = 0) -> EndpointResult:
    host = f"e{n}.{HOST}" if n else HOST
    facts = IpFacts("13.228.0.1", True, Location(None, Confidence.NONE, "none"))
    return EndpointResult(Endpoint(host, host), (), (facts,))


def _probe(
    port: int, kinds: tuple[str, ...], count: int = 1, **limits: float
) -> list[EndpointResult]:
    settings = ProbeSettings(
        kinds=kinds,
        timeout=limits.get("timeout", 1.0),
        total=limits.get("total", 30.0),
        concurrency=int(limits.get("concurrency", 4)),
        connect_to=(ConnectTo.parse(f"::127.0.0.1:{port}"),),
    )
    prober = Prober(settings)
    try:
        return prober.probe_many([_endpoint(n) for n in range(count)])
    finally:
        prober.close()


def _http(result: EndpointResult) -> ProbeResult:
    (found,) = [p for p in result.probes if p.kind == "http"]
    return found


def test_a_continue_flood_on_the_shared_path_is_cut_off(tmp_path: Path) -> None:
    with hostile(tmp_path, _flood) as port:
        (result,) = _probe(port, ("tls", "http"))
    http = _http(result)
    assert http.outcome == "protocol-error"
    assert "informational" in http.detail


def test_a_continue_flood_ends_at_the_deadline_even_without_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_edge, "MAX_INFORMATIONAL", 10**12)
    with hostile(tmp_path, _flood) as port:
        (result,) = _probe(port, ("tls", "http"))
    assert _http(result).outcome == "timeout"


def test_a_dripped_header_ends_http_alone_at_the_deadline(tmp_path: Path) -> None:
    with hostile(tmp_path, _drip) as port:
        (result,) = _probe(port, ("http",))
    assert _http(result).outcome == "timeout"


@pytest.mark.parametrize("kinds", [("http",), ("tls", "http")])
def test_the_get_after_a_405_is_bounded_too(tmp_path: Path, kinds: tuple[str, ...]) -> None:
    with hostile(tmp_path, _drip_get_after_405) as port:
        (result,) = _probe(port, kinds)
    assert _http(result).outcome == "timeout"


def test_the_stage_time_box_cuts_probes_short(tmp_path: Path) -> None:
    """Five dripping endpoints one at a time, a 3 s probe timeout and a 2 s stage: the
    first probe is cut at the stage's end (its own timeout would come later), the rest
    are skipped."""
    with hostile(tmp_path, _drip) as port:
        results = _probe(port, ("http",), count=5, timeout=3.0, total=2.0, concurrency=1)
    outcomes = [_http(r).outcome for r in results]
    assert set(outcomes) <= {"timeout", "skipped"}
    assert "skipped" in outcomes
