"""DNS over TLS (RFC 7858): a few long-lived TLS connections, queries pipelined by message id.

dnspython's ``dns.asyncquery.tls`` opens a TLS connection per query; a handshake per
query cannot keep up with hundreds of names in flight, so this transport keeps up to
``CONNECTIONS`` connections per event loop and matches replies to queries by id, as
RFC 7766 allows (replies may come out of order). Certificate problems surface as
``ssl``'s own errors, which name the problem, in the query's error text.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import weakref

from residency.resolve.doh import tls_context
from residency.resolve.errors import BadResolverSpec, QueryFailed, QueryTimeout
from residency.resolve.nameservers import ServerAddress, parse_nameserver

DOT_PORT = 853
CONNECTIONS = 2
MAX_PENDING = 100  # queries waiting on one connection before another is opened
FAILURE_MEMORY = 1.0  # seconds a failed connection attempt is reported without retrying


class _Connection:
    """One TLS connection and the queries waiting for their replies on it."""

    def __init__(
        self, label: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.label = label
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[bytes]] = {}
        self.closed = False
        self.task = asyncio.get_running_loop().create_task(self._read_replies())

    async def _read_replies(self) -> None:
        problem = "connection closed by the server"
        try:
            while True:
                size = int.from_bytes(await self.reader.readexactly(2), "big")
                reply = await self.reader.readexactly(size)
                if len(reply) >= 2:
                    future = self.pending.pop(int.from_bytes(reply[:2], "big"), None)
                    if future is not None and not future.done():
                        future.set_result(reply)
        except asyncio.IncompleteReadError:
            pass
        except (OSError, ssl.SSLError) as err:
            problem = str(err)
        finally:
            self.close(QueryFailed(f"{self.label}: {problem}"))

    def new_id(self) -> int:
        while True:
            qid = random.getrandbits(16)
            if qid not in self.pending:
                return qid

    def close(self, error: QueryFailed | None = None) -> None:
        self.closed = True
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error or QueryFailed(f"{self.label}: connection closed"))
        with contextlib.suppress(RuntimeError):
            self.writer.close()


class DotTransport:
    """Queries a DoT resolver given as ``ADDR[:PORT]`` or ``ADDR[:PORT]#TLS-NAME``.

    The TLS name (checked against the certificate) defaults to the address itself.
    """

    def __init__(self, spec: str, verify: bool | str = True) -> None:
        where, _, tls_name = spec.strip().removeprefix("tls://").partition("#")
        if not where:
            raise BadResolverSpec(f"DoT {spec!r}: expected ADDR[:PORT][#TLS-NAME]")
        server = parse_nameserver(where)
        explicit_port = "]:" in where or where.count(":") == 1
        self.server = server if explicit_port else ServerAddress(server.host, DOT_PORT)
        self.tls_name = tls_name or server.host
        try:
            self._context = tls_context(verify)
        except (OSError, ssl.SSLError) as err:
            raise BadResolverSpec(
                f"DoT {spec!r}: cannot use CA bundle {verify!r} ({err})"
            ) from None
        self._connections: list[_Connection] = []
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._opening: asyncio.Lock | None = None
        self._failure: tuple[float, QueryFailed | None] = (0.0, None)

    @property
    def label(self) -> str:
        return f"tls://{self.server.label}"

    async def _connection(self, timeout: float) -> _Connection:
        loop = asyncio.get_running_loop()
        if self._loop is None or self._loop() is not loop:
            self._close_now()
            self._loop, self._opening = weakref.ref(loop), asyncio.Lock()
        self._connections = [c for c in self._connections if not c.closed]
        idle = min(self._connections, key=lambda c: len(c.pending), default=None)
        if idle is not None and (
            len(idle.pending) < MAX_PENDING or len(self._connections) >= CONNECTIONS
        ):
            return idle
        assert self._opening is not None
        async with self._opening:
            self._connections = [c for c in self._connections if not c.closed]
            if len(self._connections) >= CONNECTIONS:
                return min(self._connections, key=lambda c: len(c.pending))
            failed_at, failure = self._failure
            if failure is not None and loop.time() - failed_at < FAILURE_MEMORY:
                raise failure  # the handshake just failed: do not hammer the server
            try:
                connection = await self._open(timeout)
            except QueryFailed as err:
                self._failure = (loop.time(), err)
                raise
            self._failure = (0.0, None)
            self._connections.append(connection)
            return connection

    async def _open(self, timeout: float) -> _Connection:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    self.server.host,
                    self.server.port,
                    ssl=self._context,
                    server_hostname=self.tls_name,
                )
        except TimeoutError:
            raise QueryTimeout(f"no TLS connection to {self.label} within {timeout:.2g}s") from None
        except ConnectionRefusedError:
            raise QueryFailed(
                f"{self.label}: connection refused (nothing is listening there)"
            ) from None
        except ssl.SSLError as err:
            raise QueryFailed(f"{self.label}: TLS failed ({err.reason or err})") from None
        except OSError as err:
            raise QueryFailed(f"{self.label}: {err.strerror or err}") from None
        return _Connection(self.label, reader, writer)

    async def exchange(self, query: bytes, timeout: float) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connection = await self._connection(timeout)
        qid = connection.new_id()
        future: asyncio.Future[bytes] = loop.create_future()
        connection.pending[qid] = future
        try:
            connection.writer.write(
                len(query).to_bytes(2, "big") + qid.to_bytes(2, "big") + query[2:]
            )
            async with asyncio.timeout_at(deadline):
                reply = await future
        except TimeoutError:
            raise QueryTimeout(f"no answer from {self.label} within {timeout:.2g}s") from None
        except (OSError, RuntimeError) as err:
            connection.close()
            raise QueryFailed(f"{self.label}: {err}") from None
        finally:
            if connection.pending.get(qid) is future:
                del connection.pending[qid]
        return query[:2] + reply[2:]

    def _close_now(self) -> None:
        connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
            connection.task.cancel()

    async def aclose(self) -> None:
        connections = list(self._connections)
        self._close_now()
        for connection in connections:
            with contextlib.suppress(BaseException):
                await connection.task
