"""The /metrics listener holds up (issue 18, item 22): 1,000 simultaneous scrapes are
all answered, and slow clients are cut instead of holding threads."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from residency.monitor import metrics_http
from residency.monitor.metrics import MonitorMetrics

pytestmark = pytest.mark.timeout(120)

GET = b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    monkeypatch.setattr(metrics_http, "CONNECTION_DEADLINE", 1.0)
    monkeypatch.setattr(metrics_http._Handler, "timeout", 1.0)
    address, stop = metrics_http.serve_metrics("127.0.0.1", 0, MonitorMetrics().registry)
    yield address
    stop()


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_thousand_simultaneous_scrapes_are_all_answered(listener: tuple[str, int]) -> None:
    clients = []
    try:
        for _ in range(1000):
            sock = socket.create_connection(listener, timeout=60)
            clients.append(sock)
        for sock in clients:
            sock.sendall(GET)
        answers = [read_all(sock) for sock in clients]
    finally:
        for sock in clients:
            sock.close()
    ok = [a for a in answers if a.startswith(b"HTTP/1.0 200") and b"residency_" in a]
    assert len(ok) == 1000


def test_slow_clients_are_cut_and_scrapes_still_answered(listener: tuple[str, int]) -> None:
    # Twenty clients open a request and never finish it; one drips a byte at a time.
    idle = [socket.create_connection(listener, timeout=30) for _ in range(20)]
    dripping = socket.create_connection(listener, timeout=30)
    try:
        for sock in idle:
            sock.sendall(b"GET /metrics HTTP/1.0\r\n")
        scrape = socket.create_connection(listener, timeout=30)
        scrape.sendall(GET)
        assert read_all(scrape).startswith(b"HTTP/1.0 200")
        scrape.close()
        # The server ends the dripping connection (read timeout or deadline), not the client.
        cut = False
        for byte in b"GET /metrics HTTP/1.0\r\nX-Slow: " + b"a" * 400:
            try:
                dripping.sendall(bytes([byte]))
                dripping.settimeout(0.2)
                if dripping.recv(1) == b"":
                    cut = True
                    break
            except TimeoutError:
                continue
            except OSError:
                cut = True
                break
        assert cut
        # The idle ones were closed by the server too (EOF, or a reset).
        for sock in idle:
            sock.settimeout(30)
            try:
                leftover = read_all(sock)
            except ConnectionResetError:
                leftover = b""
            assert not leftover.startswith(b"HTTP/1.0 200")
    finally:
        for sock in [*idle, dripping]:
            sock.close()
