"""Plain DNS over UDP, multiplexing many queries over a few sockets, with TCP for truncated replies.

One socket per query (what ``dns.asyncquery.udp`` does) costs a socket, a bind and an
event-loop registration per query; here a handful of connected sockets carry every
query, matched to their replies by message id. Connected sockets also get the kernel's
"port unreachable" back, so a resolver with nothing listening fails at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import weakref

from residency.resolve.errors import QueryFailed, QueryTimeout
from residency.resolve.nameservers import ServerAddress

#: Sockets per resolver: enough to spread ids and kernel buffers, few enough to stay cheap.
SOCKETS_PER_SERVER = 4
RECEIVE_BUFFER = 1 << 20
HEADER = 12


class _Endpoint:
    """One connected, non-blocking UDP socket and the queries waiting for a reply on it.

    It is read with ``loop.add_reader`` and drained completely on each wake-up, rather
    than through asyncio's datagram transport, which reads one datagram per socket per
    event-loop iteration: at thousands of replies a second that difference is the loop.
    """

    def __init__(self, label: str, sock: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self.label = label
        self.sock = sock
        self.loop = loop
        self.pending: dict[int, tuple[asyncio.Future[bytes], bytes]] = {}
        self.closed = False
        # Datagrams that answer no outstanding query (wrong id, not a reply, another
        # question): a flooding or spoofing sender. Dropped, never parsed, only counted.
        self.ignored = 0
        loop.add_reader(sock.fileno(), self._drain)

    def _drain(self) -> None:
        recv = self.sock.recv
        pending = self.pending
        while True:
            try:
                data = recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                self._fail_all(
                    QueryFailed(f"{self.label}: connection refused (nothing is listening there)")
                )
                continue
            except OSError as err:
                self._fail_all(QueryFailed(f"{self.label}: {err.strerror or err}"))
                return
            entry = pending.get((data[0] << 8) | data[1]) if len(data) >= HEADER else None
            if entry is None or not _answers(data, entry[1]):
                self.ignored += 1
                continue
            future = entry[0]
            del pending[(data[0] << 8) | data[1]]
            if not future.done():
                future.set_result(data)

    def send(self, wire: bytes) -> None:
        try:
            self.sock.send(wire)
        except ConnectionRefusedError:
            # An earlier query's "port unreachable" surfaces on this send.
            raise QueryFailed(
                f"{self.label}: connection refused (nothing is listening there)"
            ) from None
        except BlockingIOError:
            raise QueryFailed(f"{self.label}: socket buffer full") from None
        except OSError as err:
            raise QueryFailed(f"{self.label}: {err.strerror or err}") from None

    def _fail_all(self, error: QueryFailed) -> None:
        pending, self.pending = self.pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self._fail_all(QueryFailed(f"{self.label}: socket closed"))

    def new_id(self) -> int:
        while True:
            qid = random.getrandbits(16)
            if qid not in self.pending:
                return qid


def _question(query: bytes) -> bytes:
    """The question section of one of our own queries (an uncompressed name, type, class)."""
    offset = HEADER
    while offset < len(query) and query[offset]:
        offset += 1 + query[offset]
    return query[HEADER : offset + 5].lower()


def _answers(data: bytes, question: bytes) -> bool:
    """``data`` is a reply (QR set) with one question, the one asked (case-insensitively)."""
    return (
        bool(data[2] & 0x80)
        and data[4:6] == b"\x00\x01"
        and data[HEADER : HEADER + len(question)].lower() == question
    )


def _expire(future: asyncio.Future[bytes], error: QueryTimeout) -> None:
    if not future.done():
        future.set_exception(error)


class UdpTransport:
    """Queries one resolver over UDP; retries a truncated (TC) reply over TCP."""

    def __init__(self, server: ServerAddress, sockets: int = SOCKETS_PER_SERVER) -> None:
        self.server = server
        self._size = max(1, sockets)
        self._endpoints: list[_Endpoint] = []
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._next = 0
        self._opening: asyncio.Lock | None = None

    @property
    def label(self) -> str:
        return self.server.label

    @property
    def ignored(self) -> int:
        """Datagrams received that answered none of our queries (see ``_Endpoint.ignored``)."""
        return sum(e.ignored for e in self._endpoints)

    async def _endpoint(self) -> _Endpoint:
        loop = asyncio.get_running_loop()
        if self._loop is None or self._loop() is not loop:
            # A new event loop (asyncio.run called again): sockets of the old one are dead.
            self._close_now()
            self._loop, self._opening = weakref.ref(loop), asyncio.Lock()
        if len(self._endpoints) < self._size or any(e.closed for e in self._endpoints):
            assert self._opening is not None
            async with self._opening:
                self._endpoints = [e for e in self._endpoints if not e.closed]
                while len(self._endpoints) < self._size:
                    self._endpoints.append(await self._open(loop))
        self._next = (self._next + 1) % len(self._endpoints)
        return self._endpoints[self._next]

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Endpoint:
        family = socket.AF_INET6 if ":" in self.server.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.connect((self.server.host, self.server.port))
            return _Endpoint(self.label, sock, loop)
        except OSError as err:
            sock.close()
            raise QueryFailed(
                f"{self.label}: cannot open a UDP socket ({err.strerror or err})"
            ) from None

    async def exchange(self, query: bytes, timeout: float) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        endpoint = await self._endpoint()
        qid = endpoint.new_id()
        wire = qid.to_bytes(2, "big") + query[2:]
        future: asyncio.Future[bytes] = loop.create_future()
        endpoint.pending[qid] = (future, _question(query))
        timer = loop.call_at(
            deadline,
            _expire,
            future,
            QueryTimeout(f"no answer from {self.label} within {timeout:.2g}s"),
        )
        try:
            endpoint.send(wire)
            data = await future
        finally:
            timer.cancel()
            entry = endpoint.pending.get(qid)
            if entry is not None and entry[0] is future:
                del endpoint.pending[qid]
        if len(data) > 2 and data[2] & 0x02:  # TC: the answer did not fit, ask over TCP
            return await self._over_tcp(query, max(0.05, deadline - loop.time()))
        return query[:2] + data[2:]

    async def _over_tcp(self, query: bytes, timeout: float) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(self.server.host, self.server.port)
                try:
                    writer.write(len(query).to_bytes(2, "big") + query)
                    await writer.drain()
                    size = int.from_bytes(await reader.readexactly(2), "big")
                    reply = await reader.readexactly(size)
                finally:
                    writer.close()
        except TimeoutError:
            raise QueryTimeout(
                f"truncated answer, and no TCP answer from {self.label} within {timeout:.2g}s"
            ) from None
        except (OSError, asyncio.IncompleteReadError) as err:
            raise QueryFailed(f"truncated answer, and TCP to {self.label} failed: {err}") from None
        if reply[:2] != query[:2]:
            raise QueryFailed(f"TCP reply from {self.label} does not match the query id")
        return reply

    def _close_now(self) -> None:
        endpoints, self._endpoints = self._endpoints, []
        for endpoint in endpoints:
            endpoint.close()

    async def aclose(self) -> None:
        self._close_now()
        self._loop = None
