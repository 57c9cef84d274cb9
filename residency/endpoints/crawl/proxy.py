"""A small HTTP proxy for the crawl's browser: each name is resolved by residency's resolver
(and vantage), and each connection is recorded with the address it really reached.

The browser reaches every origin through it: ``CONNECT host:port`` for https and wss (a
byte tunnel; TLS stays between the browser and the origin, unread), and absolute-form
requests for plain http (forwarded with ``Connection: close``, so one upstream connection
serves one request and a kept-alive proxy connection never mixes hosts). Names found while
the page runs (a script adding a tracker) are resolved as they come; nothing is fed to the
browser ahead of time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from residency.addresses import is_address
from residency.timefmt import utc_iso

#: ``lookup(host)`` -> (addresses to try in order, why there are none).
Lookup = Callable[[str], Awaitable[tuple[list[str], str]]]

MAX_HEAD = 64 * 1024  # a request head larger than this is refused
MAX_RECORDED = 100_000  # connections kept; beyond it they are counted, not stored
_HOP_BY_HOP = {b"proxy-connection", b"connection", b"keep-alive", b"proxy-authorization"}


@dataclass(frozen=True)
class Connection:
    """One connection the browser asked the proxy for."""

    host: str
    port: int
    address: str | None  # the address connected to; None when none could be reached
    when: str
    kind: str  # "CONNECT" (https, wss) or "http"
    error: str = ""
    target: str = ""  # the absolute URL of a plain-http request; "" for a tunnel
    method: str = "CONNECT"  # the plain-http request's method


def _split_host_port(authority: str, default: int) -> tuple[str, int] | None:
    text = authority.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    try:
        port = int(port_text) if port_text else default
    except ValueError:
        return None
    if not host or not 0 < port < 65536:
        return None
    return host.lower().rstrip("."), port


class ResolvingProxy:
    """Start with ``start()`` (returns the port on 127.0.0.1), stop with ``stop()``."""

    def __init__(self, lookup: Lookup, connect_timeout: float = 10.0) -> None:
        self._lookup_name = lookup
        self.connect_timeout = connect_timeout
        self.connections: list[Connection] = []
        self.dropped = 0
        self._lock = threading.Lock()
        self._lookups: dict[str, asyncio.Task[tuple[list[str], str]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._closing: Callable[[], Awaitable[None]] | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self, on_close: Callable[[], Awaitable[None]] | None = None) -> int:
        """Serve in a thread of its own; ``on_close`` runs in its loop at ``stop()``
        (the resolver's sockets belong to that loop)."""
        self._closing = on_close
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._client, "127.0.0.1", 0, limit=MAX_HEAD)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except OSError as err:
                failure.append(err)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=serve, name="residency-crawl-proxy", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self.port

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._closing is not None:
            with contextlib.suppress(Exception):
                await self._closing()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    # ------------------------------------------------------------------ what it saw

    def recorded(self, since: int = 0) -> list[Connection]:
        """The connections recorded so far, from the ``since``-th on."""
        with self._lock:
            return self.connections[since:]

    def address_of(self, host: str, port: int) -> str | None:
        """The address the first successful connection to ``host:port`` reached."""
        with self._lock:
            for connection in self.connections:
                if connection.host == host and connection.port == port and connection.address:
                    return connection.address
        return None

    def failure_of(self, host: str) -> str:
        """Why connections to ``host`` failed, when none succeeded ("" otherwise)."""
        with self._lock:
            mine = [c for c in self.connections if c.host == host]
        if not mine or any(c.address for c in mine):
            return ""
        return mine[0].error

    def _record(self, connection: Connection) -> None:
        with self._lock:
            if len(self.connections) < MAX_RECORDED:
                self.connections.append(connection)
            else:
                self.dropped += 1

    # ------------------------------------------------------------------ serving

    async def _resolve(self, host: str) -> tuple[list[str], str]:
        if is_address(host):
            return [host], ""
        task = self._lookups.get(host)
        if task is None:  # one resolution per name per crawl: every request agrees
            task = self._lookups[host] = asyncio.ensure_future(self._lookup_name(host))
        return await asyncio.shield(task)

    async def _open(
        self, host: str, port: int, kind: str, target: str = "", method: str = "CONNECT"
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        when = utc_iso(time.time())
        try:
            addresses, problem = await self._resolve(host)
        except Exception as err:  # a resolver bug must not kill the proxy: recorded instead
            addresses, problem = [], f"resolution failed: {err}"
        errors: list[str] = []
        for address in addresses[:4]:
            try:
                opened = await asyncio.wait_for(
                    asyncio.open_connection(address, port), self.connect_timeout
                )
            except TimeoutError:
                errors.append(f"{address}: no answer within {self.connect_timeout:g} s")
                continue
            except OSError as err:
                why = os.strerror(err.errno).lower() if err.errno else str(err)
                errors.append(f"{address} port {port}: {why}")
                continue
            self._record(Connection(host, port, address, when, kind, "", target, method))
            return opened
        reason = problem or ("cannot connect to " + "; ".join(errors) if errors else "no address")
        self._record(Connection(host, port, None, when, kind, reason, target, method))
        return None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                return
            except OSError:
                return
            line, _, headers = head.partition(b"\r\n")
            parts = line.split()
            if len(parts) != 3:
                await _refuse(writer, b"400 Bad Request")
                return
            method, target, version = parts
            if method.upper() == b"CONNECT":
                await self._tunnel(target.decode("latin-1"), reader, writer)
            else:
                await self._forward(
                    method, target.decode("latin-1"), version, headers, reader, writer
                )
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _tunnel(
        self, authority: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        where = _split_host_port(authority, 443)
        if where is None:
            await _refuse(writer, b"400 Bad Request")
            return
        upstream = await self._open(where[0], where[1], "CONNECT")
        if upstream is None:
            await _refuse(writer, b"502 Bad Gateway")
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await _splice(reader, writer, *upstream)

    async def _forward(
        self,
        method: bytes,
        target: str,
        version: bytes,
        headers: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            url = urlsplit(target)
            where = _split_host_port(url.netloc.rpartition("@")[2], 80)
        except ValueError:
            where = None
        if url.scheme.lower() != "http" or where is None:
            await _refuse(writer, b"400 Bad Request")
            return
        upstream = await self._open(
            where[0], where[1], "http", target, method.decode("latin-1", "replace")[:16]
        )
        if upstream is None:
            await _refuse(writer, b"502 Bad Gateway")
            return
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        kept = [
            h
            for h in headers.split(b"\r\n")
            if h and h.split(b":", 1)[0].strip().lower() not in _HOP_BY_HOP
        ]
        up_reader, up_writer = upstream
        up_writer.write(
            method
            + b" "
            + path.encode("latin-1", "replace")
            + b" "
            + version
            + b"\r\n"
            + b"\r\n".join(kept)
            + b"\r\nConnection: close\r\n\r\n"
        )
        await _splice(reader, writer, up_reader, up_writer, closing_head=True)


async def _refuse(writer: asyncio.StreamWriter, status: bytes) -> None:
    with contextlib.suppress(Exception):
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await source.read(65536)
            if not data:
                break
            sink.write(data)
            await sink.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if sink.can_write_eof():
                sink.write_eof()


async def _closing_head(up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The response head, told to the browser as the last on this connection: without it
    the browser would keep the connection for a next request, find it closed, and retry."""
    try:
        head = await up_reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        return
    line, _, rest = head[:-4].partition(b"\r\n")
    kept = [
        h
        for h in rest.split(b"\r\n")
        if h and h.split(b":", 1)[0].strip().lower() not in _HOP_BY_HOP
    ]
    writer.write(b"\r\n".join([line, *kept, b"Connection: close", b"Proxy-Connection: close"]))
    writer.write(b"\r\n\r\n")


async def _splice(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
    closing_head: bool = False,
) -> None:
    """Bytes both ways until the server side ends; then both are closed."""
    upward = asyncio.ensure_future(_pipe(reader, up_writer))
    try:
        if closing_head:
            await _closing_head(up_reader, writer)
        await _pipe(up_reader, writer)
    finally:
        upward.cancel()
        with contextlib.suppress(BaseException):
            await upward
        for side in (up_writer, writer):
            with contextlib.suppress(Exception):
                side.close()
