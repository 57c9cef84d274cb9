"""DNS over HTTPS (RFC 8484) through dnspython and an httpx client."""

from __future__ import annotations

import asyncio
import weakref
from urllib.parse import urlsplit

import dns.asyncquery
import dns.exception
import dns.message
import httpx

from residency.resolve.errors import BadResolverSpec, QueryFailed, QueryTimeout


def check_doh_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise BadResolverSpec(f"DoH URL {url!r}: expected https://HOST[:PORT]/PATH")
    return url


class DohTransport:
    """Queries a DoH endpoint (POST, application/dns-message), one HTTP/2 client per loop."""

    def __init__(self, url: str, verify: bool | str = True) -> None:
        self.url = check_doh_url(url)
        self.verify = verify
        self._client: httpx.AsyncClient | None = None
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    @property
    def label(self) -> str:
        return self.url

    def _client_for(self, loop: asyncio.AbstractEventLoop) -> httpx.AsyncClient:
        if self._client is None or self._loop is None or self._loop() is not loop:
            self._client = httpx.AsyncClient(http2=True, verify=self.verify)
            self._loop = weakref.ref(loop)
        return self._client

    async def exchange(self, query: bytes, timeout: float) -> bytes:
        client = self._client_for(asyncio.get_running_loop())
        message = dns.message.from_wire(query)
        try:
            reply = await dns.asyncquery.https(message, self.url, timeout=timeout, client=client)
            return reply.to_wire()
        except (dns.exception.Timeout, httpx.TimeoutException, TimeoutError):
            raise QueryTimeout(f"no answer from DoH {self.url} within {timeout:.2g}s") from None
        except httpx.ConnectError as err:
            raise QueryFailed(f"DoH {self.url}: cannot connect ({err})") from None
        except (httpx.HTTPError, OSError, ValueError, dns.exception.DNSException) as err:
            raise QueryFailed(f"DoH {self.url}: {err}") from None

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
