"""UdpTransport and the engine against a real local UDP/TCP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import dns.flags
import dns.message
import dns.rrset
import pytest

from residency.model import Outcome
from residency.resolve.engine import ChainResolver, ResolverSettings


class Server:
    """A tiny DNS server: UDP replies built by ``answer``, delayed ``delay`` seconds; TCP too."""

    def __init__(self, delay: float = 0.0, truncate: bool = False, flood: int = 0) -> None:
        self.delay = delay
        self.flood = flood
        self.truncate = truncate
        self.udp_queries = 0
        self.tcp_queries = 0
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen()
        self.stop = False
        for target in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=target, daemon=True).start()

    def reply(self, wire: bytes, tc: bool) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA  # an authoritative answer: AA set, TC not
        name = query.question[0].name
        if query.question[0].rdtype == 1:
            response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.7"))
        if tc:
            response.flags |= dns.flags.TC
            response.answer = []
        return response.to_wire()

    def _serve_udp(self) -> None:
        while not self.stop:
            try:
                wire, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            self.udp_queries += 1
            for index in range(self.flood):
                # Same id, then garbage: a label type 0x40, not a reply, another question.
                junk = [wire[:2] + b"\x81\x80\x00\x01" + bytes(6) + b"\x40abc", wire[:2] + b"\x01"]
                self._send(junk[index % 2] + bytes(index % 7), peer)
            out = self.reply(wire, self.truncate)
            timer = threading.Timer(self.delay, self._send, (out, peer))
            timer.daemon = True
            timer.start()

    def _send(self, out: bytes, peer: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):
            self.udp.sendto(out, peer)

    def _serve_tcp(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                size = int.from_bytes(conn.recv(2), "big")
                wire = b""
                while len(wire) < size:
                    wire += conn.recv(size - len(wire))
                self.tcp_queries += 1
                out = self.reply(wire, False)
                conn.sendall(len(out).to_bytes(2, "big") + out)

    def close(self) -> None:
        self.stop = True
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def server_factory() -> Iterator[Callable[..., Server]]:
    made: list[Server] = []

    def make(**kwargs: float | bool) -> Server:
        server = Server(**kwargs)  # type: ignore[arg-type]
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def _resolver(server: Server, timeout: float) -> ChainResolver:
    settings = ResolverSettings(
        nameservers=(f"127.0.0.1:{server.port}",), timeout=timeout, https_hints=False
    )
    return ChainResolver(settings)


def test_a_reply_within_the_budget_is_accepted(server_factory: Callable[..., Server]) -> None:
    # Every reply comes 1.2 s after its query; the budget is 2 s. With 3 attempts the
    # last one is sent at 0.86 s, so only a reply to the first attempt can arrive in time.
    server = server_factory(delay=1.2)
    engine = _resolver(server, 2.0)
    started = time.monotonic()
    [(_, (res,))] = list(engine.resolve_many(["slow.test"]))
    assert res.outcome == Outcome.RESOLVED, res.error
    assert [a.ip for a in res.addresses] == ["192.0.2.7"]
    assert time.monotonic() - started < 2.0


def test_no_reply_within_the_budget_times_out_at_the_budget(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(delay=3.0)
    engine = _resolver(server, 1.0)
    started = time.monotonic()
    [(_, (res,))] = list(engine.resolve_many(["slow.test"]))
    elapsed = time.monotonic() - started
    assert res.outcome == Outcome.TIMEOUT
    assert "3 attempts within 1s" in res.error
    assert 0.9 < elapsed < 1.8


def test_a_small_authoritative_answer_stays_on_udp(server_factory: Callable[..., Server]) -> None:
    server = server_factory()
    engine = _resolver(server, 2.0)
    [(_, (res,))] = list(engine.resolve_many(["small.test"]))
    assert res.outcome == Outcome.RESOLVED, res.error
    assert server.tcp_queries == 0
    assert server.udp_queries >= 2  # A and AAAA


def test_a_truncated_answer_is_asked_again_over_tcp(server_factory: Callable[..., Server]) -> None:
    server = server_factory(truncate=True)
    engine = _resolver(server, 2.0)
    [(_, (res,))] = list(engine.resolve_many(["big.test"]))
    assert res.outcome == Outcome.RESOLVED, res.error
    assert [a.ip for a in res.addresses] == ["192.0.2.7"]
    assert server.tcp_queries >= 2


def test_garbage_datagrams_are_ignored_and_counted(server_factory: Callable[..., Server]) -> None:
    server = server_factory(flood=50)
    engine = _resolver(server, 2.0)
    transport = engine.transports[0]

    async def run() -> object:
        try:
            return await engine.resolve("flooded.test")
        finally:
            ignored.append(transport.ignored)  # type: ignore[attr-defined]
            await engine.aclose()

    ignored: list[int] = []
    res = asyncio.run(run())
    assert res.outcome == Outcome.RESOLVED, res.error  # type: ignore[attr-defined]
    assert ignored[0] >= 50
