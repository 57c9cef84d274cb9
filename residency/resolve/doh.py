"""DNS over HTTPS (RFC 8484) through dnspython and its HTTP client (httpx2, or httpx before 2.8)."""

from __future__ import annotations

import asyncio
import importlib
import ssl
import weakref
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import dns.asyncquery
import dns.exception
import dns.message

from residency.resolve.errors import BadResolverSpec, QueryFailed, QueryTimeout


def check_doh_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise BadResolverSpec(f"DoH URL {url!r}: expected https://HOST[:PORT]/PATH")
    return url


def http_module() -> ModuleType:
    """The HTTP client module dnspython's DoH expects: httpx2 (dnspython 2.8+) or httpx."""
    for name in ("httpx2", "httpx"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise BadResolverSpec(
        "DNS over HTTPS needs dnspython's DoH extra: pip install 'dnspython[doh]'"
    )


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """Verification as asked: the system CAs, a CA bundle path, or none at all."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class DohTransport:
    """Queries a DoH endpoint (POST, application/dns-message), one HTTP/2 client per loop."""

    #: Requests in flight at once (streams over the client's few HTTP/2 connections).
    max_in_flight = 8

    def __init__(self, url: str, verify: bool | str = True) -> None:
        self._gate = asyncio.Semaphore(self.max_in_flight)
        self.url = check_doh_url(url)
        self._http = http_module()
        self._context = tls_context(verify)
        self._client: Any = None
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    @property
    def label(self) -> str:
        return self.url

    def _client_for(self, loop: asyncio.AbstractEventLoop) -> Any:
        if self._client is None or self._loop is None or self._loop() is not loop:
            try:
                self._client = self._http.AsyncClient(http2=True, verify=self._context)
            except ImportError:  # the h2 package is missing: HTTP/1.1 will do
                self._client = self._http.AsyncClient(verify=self._context)
            self._loop = weakref.ref(loop)
            self._gate = asyncio.Semaphore(self.max_in_flight)
        return self._client

    async def exchange(self, query: bytes, timeout: float) -> bytes:
        client = self._client_for(asyncio.get_running_loop())  # also renews the gate
        # Waiting for a free slot is our own queue, not the server's slowness: not timed.
        async with self._gate:
            try:
                async with asyncio.timeout(timeout):
                    return await self._exchange(client, query, timeout)
            except TimeoutError:
                pass
        raise QueryTimeout(f"no answer from DoH {self.url} within {timeout:.2g}s")

    async def _exchange(self, client: Any, query: bytes, timeout: float) -> bytes:
        message = dns.message.from_wire(query)
        http = self._http
        try:
            reply = await dns.asyncquery.https(message, self.url, timeout=timeout, client=client)
            return reply.to_wire()
        except (dns.exception.Timeout, http.TimeoutException, TimeoutError):
            raise QueryTimeout(f"no answer from DoH {self.url} within {timeout:.2g}s") from None
        except http.ConnectError as err:
            raise QueryFailed(f"DoH {self.url}: cannot connect ({err or 'refused'})") from None
        except (http.HTTPError, OSError, ValueError, dns.exception.DNSException) as err:
            raise QueryFailed(f"DoH {self.url}: {err}") from None

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
