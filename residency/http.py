"""The only way residency fetches anything: one user agent and one set of limits.

Every download (datasets, RDAP, domain RDAP, RFC 9092 geofeeds) goes through a
``Fetcher``, which owns:

- the user agent (``USER_AGENT``);
- one deadline over the whole exchange: redirects, retries, a dripped header and a
  slow body included (each socket read is cut short at the deadline, so no per-read
  timeout can add up past it);
- the size cap, checked on ``Content-Length`` and while reading; a compressed body is
  counted decompressed, and decompressed in bounded steps (no gzip bomb);
- the redirect rule, a parameter of each fetch;
- the address rule: every address a host name resolves to is checked (loopback,
  private, link-local, shared, reserved, multicast and unspecified are refused, so are
  ``127.1``, ``2130706433``, ``0x7f000001`` and ``0``, which resolve like addresses),
  and the connection is made to the address that was checked, so a second DNS answer
  cannot differ; TLS still names the host (SNI and ``Host``);
- retries with backoff on 429 and 5xx, ``Retry-After`` honoured up to a bound.

A webhook is an address the user configured, often a private one: ``configured_client``
keeps the environment's proxy and allows any address, and its exchanges obey the same
``exchange_deadline``, which a stopping monitor can also cancel.

``local=True`` lets a fetcher reach loopback and private addresses (tests, the local
demo); ``trusted=True`` on one fetch exempts the starting URL's own host and port (a
URL the user configured, such as ``$RESIDENCY_RDAP_URL``), never a redirect's target.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpcore
import httpx

from residency import __version__
from residency.errors import ResidencyError

USER_AGENT = f"residency/{__version__} (data-residency auditor)"
#: Content codings residency decodes itself (in bounded steps); nothing else is asked for.
ACCEPT_ENCODING = "gzip, deflate"
CHUNK = 1 << 16
#: Statuses worth asking again after a pause.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Body kept from an answer that is not a success (enough for an error object).
ERROR_BODY_LIMIT = 64 * 1024

#: ``resolver(host, port)`` -> the addresses to connect to, as text.
Resolver = Callable[[str, int], Sequence[str]]
#: ``rule(current, target)`` -> why a redirect from ``current`` to ``target`` is refused,
#: or None to follow it.
RedirectRule = Callable[[httpx.URL, httpx.URL], str | None]


class FetchError(ResidencyError):
    """A fetch that did not give an answer; ``reason`` says why in a few words."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class FetchRefused(FetchError):
    """Refused before or while connecting: a non-public address, a refused redirect."""


class TooManyRedirects(FetchRefused):
    """More redirects than the limit allows."""


class FetchTooLarge(FetchError):
    """The answer was larger than the cap (announced or while reading, decompressed)."""


class FetchTimedOut(FetchError):
    """The exchange did not finish before its deadline."""


class DeadlinePassed(FetchTimedOut):
    """The whole-exchange deadline passed (as opposed to one silence too long)."""


class FetchFailed(FetchError):
    """Transport or protocol trouble: cannot connect, reset, truncated, bad encoding."""


@dataclass(frozen=True)
class Limits:
    """The limits of one fetch. ``deadline`` bounds everything, ``read_timeout`` one
    silence, ``connect_timeout`` each connection attempt."""

    deadline: float = 30.0
    max_bytes: int = 1024 * 1024
    connect_timeout: float = 4.0
    read_timeout: float = 30.0
    max_redirects: int = 3
    retries: int = 0
    backoff: float = 1.0
    max_retry_wait: float = 30.0


@dataclass(frozen=True)
class Response:
    """A final (non-redirect) answer, read within the limits. ``body`` is empty when
    a success was handed to a sink."""

    url: httpx.URL
    status_code: int
    headers: httpx.Headers
    body: bytes
    size: int  # decoded bytes read (for a sink too)


# ------------------------------------------------------------------ redirect rules


def follow_any(current: httpx.URL, target: httpx.URL) -> str | None:
    """Any http(s) target (the address rule still applies to it)."""
    return None


def same_origin(current: httpx.URL, target: httpx.URL) -> str | None:
    """Only the same scheme, host and port."""
    if (target.scheme, target.host, target.port) == (current.scheme, current.host, current.port):
        return None
    return f"redirect to another host ({target.host}) refused"


def no_redirects(current: httpx.URL, target: httpx.URL) -> str | None:
    return "redirects are not followed"


# ------------------------------------------------------------------ address rule


def system_resolver(host: str, port: int) -> Sequence[str]:
    """The system's addresses for ``host`` (``getaddrinfo``, so ``127.1`` and
    ``2130706433`` come back as 127.0.0.1, as a connection would read them)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        raise httpcore.ConnectError(f"cannot resolve {host}: {err}") from err
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


def address_refusal(text: str) -> str | None:
    """Why residency must not connect to the address ``text``, or None when it is public."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return "not an address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            inner = address_refusal(str(embedded))
            if inner:
                return inner
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved (non-public) address"
    return None


#: With a cancel event, the longest a blocked read waits before it looks at it again.
CHECK_EVERY = 0.25


@dataclass
class _Exchange:
    """The state of the exchange running in this context: its deadline, the event that
    cancels it (a stopping monitor), and the one (host, port) exempt from the address rule."""

    deadline: float
    clock: Callable[[], float]
    exempt: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    cancel: threading.Event | None = None


_EXCHANGE: contextvars.ContextVar[_Exchange | None] = contextvars.ContextVar(
    "residency_http_exchange", default=None
)


@contextlib.contextmanager
def exchange_deadline(
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
    cancel: threading.Event | None = None,
) -> Iterator[None]:
    """Bound every socket operation of exchanges made inside this block (a ``Fetcher``'s,
    a probe's, a ``configured_client``'s) by one deadline ``seconds`` from now; with
    ``cancel``, end them as soon as it is set (a blocked read looks every ``CHECK_EVERY``
    seconds). Nested blocks keep the tighter deadline and the outer cancel event."""
    outer = _EXCHANGE.get()
    deadline = clock() + seconds
    if outer is not None:
        deadline = min(deadline, outer.deadline)
        cancel = cancel or outer.cancel
    token = _EXCHANGE.set(_Exchange(deadline, clock, cancel=cancel))
    try:
        yield
    finally:
        _EXCHANGE.reset(token)


def _remaining(timeout: float | None, connecting: bool = False) -> float | None:
    state = _EXCHANGE.get()
    if state is None:
        return timeout
    if state.cancel is not None and state.cancel.is_set():
        raise httpcore.ReadError("cancelled: the exchange was stopped")
    left = state.deadline - state.clock()
    if left <= 0:
        error = httpcore.ConnectTimeout if connecting else httpcore.ReadTimeout
        raise error("the exchange deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the exchange deadline (and,
    with a cancel event, a read ends soon after it is set)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        state = _EXCHANGE.get()
        if state is None or state.cancel is None:
            return self._inner.read(max_bytes, _remaining(timeout))
        started = state.clock()
        while True:  # in slices, looking at the cancel event between them
            left = _remaining(None)
            assert left is not None
            if timeout is not None:
                left = min(left, timeout - (state.clock() - started))
                if left <= 0:
                    raise httpcore.ReadTimeout("timed out")
            try:
                return self._inner.read(max_bytes, min(left, CHECK_EVERY))
            except httpcore.ReadTimeout:
                continue

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _remaining(timeout, True))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class AddressRefused(Exception):
    """Raised inside the transport; ``Fetcher`` turns it into ``FetchRefused``."""


class _CheckedBackend(httpcore.NetworkBackend):
    """Resolves the host itself, checks every address, and connects to a checked one."""

    def __init__(self, resolver: Resolver, local: bool) -> None:
        self._resolver = resolver
        self._local = local
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        state = _EXCHANGE.get()
        exempt = self._local or (state is not None and (host.lower(), port) in state.exempt)
        addresses = self._resolver(host, port)
        usable: list[str] = []
        refused: list[str] = []
        for address in addresses:
            why = None if exempt else address_refusal(address)
            if why:
                refused.append(f"{address}, {why}")
            else:
                usable.append(address)
        if not usable:
            if refused:
                shown = host if host == refused[0].split(",")[0] else f"{host} resolves to"
                raise AddressRefused(f"{shown} {refused[0]}: refused")
            raise httpcore.ConnectError(f"{host} has no address")
        last: Exception | None = None
        for address in usable:
            try:
                stream = self._plain.connect_tcp(
                    address, port, _remaining(timeout, True), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                last = err
                continue
            return _DeadlineStream(stream)
        assert last is not None
        raise last

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise AddressRefused("unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpx's own backend, its connections bounded by the exchange deadline."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.connect_tcp(
            host, port, _remaining(timeout, True), local_address, socket_options
        )
        return _DeadlineStream(inner)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.connect_unix_socket(path, _remaining(timeout, True), socket_options)
        return _DeadlineStream(inner)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _ssl_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    return httpx.create_ssl_context(verify=verify, trust_env=False)


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's own transport over ``_CheckedBackend`` (httpx does not yet take a network
    backend as a parameter, so the connection pool is replaced after construction)."""

    def __init__(
        self, verify: ssl.SSLContext | bool, resolver: Resolver, local: bool, keepalive: bool
    ) -> None:
        context = _ssl_context(verify)
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=100,
            max_keepalive_connections=20 if keepalive else 0,
            keepalive_expiry=5.0,
            network_backend=_CheckedBackend(resolver, local),
        )


def make_client(
    *,
    local: bool = False,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | bool = True,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
    keepalive: bool = True,
) -> httpx.Client:
    """The one place residency builds an ``httpx.Client``: our user agent, no
    redirects followed by httpx (the caller's rule decides), no proxy from the
    environment (a proxy would connect to addresses we never checked), and a transport
    that checks every address it connects to unless ``transport`` is given (a test seam)."""
    return httpx.Client(
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        transport=transport
        or _CheckedTransport(verify, resolver or system_resolver, local, keepalive),
    )


def configured_client(timeout: float = 10.0) -> httpx.Client:
    """A client for an address the user configured, not one an audited party chose (a
    webhook: Alertmanager or a chat relay, often on a private address): our user agent,
    the proxy from the environment kept, any address allowed; every exchange obeys
    ``exchange_deadline`` (its deadline and cancel event), connect and TLS included."""
    client = httpx.Client(
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
    )
    transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        inner = getattr(pool, "_network_backend", None)
        if inner is None:
            client.close()
            raise RuntimeError("httpx/httpcore changed: cannot bound the client's exchanges")
        pool._network_backend = _DeadlineBackend(inner)  # type: ignore[union-attr]
    return client


# ------------------------------------------------------------------ fetching


def retry_after(value: str | None, now: Callable[[], datetime] | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


class _Decoder:
    """Decodes a body in bounded steps and counts what comes out against the cap."""

    def __init__(self, encoding: str, url: str, max_bytes: int) -> None:
        coding = encoding.strip().lower()
        if coding in ("", "identity"):
            self._zlib = None
        elif coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._zlib = zlib.decompressobj()
        else:
            raise FetchFailed(url, f"unsupported content encoding {encoding[:40]!r}")
        self.url = url
        self.max_bytes = max_bytes
        self.size = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            yield self._count(data)
            return
        pending = data
        while pending:
            try:
                out = self._zlib.decompress(pending, CHUNK)
            except zlib.error as err:
                raise FetchFailed(self.url, f"corrupt compressed body ({err})") from err
            if out:
                yield self._count(out)
            pending = self._zlib.unconsumed_tail
            if self._zlib.eof:
                return  # trailing bytes after the compressed stream are ignored

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise FetchTooLarge(
                self.url, f"more than the {self.max_bytes} byte limit (decoded); aborted"
            )
        return data


class Fetcher:
    """Fetches under ``Limits``; thread-safe (one client, one connection pool).

    ``client`` and ``transport`` are test seams (``httpx.MockTransport``); by default
    the fetcher builds its own client with ``make_client``.
    """

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        local: bool = False,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._owns_client = client is None
        self.client = client or make_client(
            local=local, resolver=resolver, verify=verify, transport=transport
        )
        self.local = local
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def wrap(cls, client: httpx.Client | Fetcher | None, **options: Any) -> Fetcher:
        """A fetcher for ``client``: itself when already one, a wrapper around an
        ``httpx.Client`` (test seam), or a new one."""
        if isinstance(client, Fetcher):
            return client
        return cls(client, **options)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        limits: Limits,
        *,
        headers: dict[str, str] | None = None,
        redirects: RedirectRule = same_origin,
        trusted: bool = False,
        sink: Callable[[bytes], None] | None = None,
    ) -> Response:
        """GET ``url`` under ``limits``; the final answer, whatever its status (the
        caller judges it). Raises a ``FetchError`` for everything that gives none."""
        start = self._clock()
        deadline = start + limits.deadline
        exempt: frozenset[tuple[str, int]] = frozenset()
        try:
            origin = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as err:
            raise FetchRefused(url, f"not a URL ({err})") from err
        if origin.scheme not in ("http", "https") or not origin.host:
            raise FetchRefused(url, "not an http(s) URL with a host")
        if trusted:
            exempt = frozenset({(origin.host.lower(), origin.port or _default_port(origin))})
        token = _EXCHANGE.set(_Exchange(deadline, self._clock, exempt))
        try:
            for attempt in range(limits.retries + 1):
                response = self._follow(url, limits, headers or {}, redirects, sink)
                if response.status_code not in RETRY_STATUSES or attempt == limits.retries:
                    return response
                wait = retry_after(response.headers.get("Retry-After"))
                if wait is None:
                    wait = limits.backoff * 2**attempt
                if wait > limits.max_retry_wait or self._clock() + wait >= deadline:
                    return response
                self._sleep(wait)
            raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover
        finally:
            _EXCHANGE.reset(token)

    def _follow(
        self,
        url: str,
        limits: Limits,
        headers: dict[str, str],
        redirects: RedirectRule,
        sink: Callable[[bytes], None] | None,
    ) -> Response:
        target = httpx.URL(url)
        seen = {str(target)}
        for _hop in range(limits.max_redirects + 1):
            state = _EXCHANGE.get()
            assert state is not None
            if self._clock() >= state.deadline:
                raise DeadlinePassed(url, f"not done within {limits.deadline:g}s")
            try:
                request = self.client.build_request(
                    "GET",
                    target,
                    headers=headers,
                    timeout=httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout),
                )
                response = self.client.send(request, stream=True, follow_redirects=False)
            except AddressRefused as err:
                raise FetchRefused(str(target), str(err)) from err
            except httpx.HTTPError as err:
                raise self._transport_error(str(target), err, limits, reading=False) from err
            try:
                if response.has_redirect_location:
                    location = response.headers.get("Location", "")
                    try:
                        nxt = response.url.join(location)
                    except httpx.InvalidURL as err:
                        raise FetchRefused(str(target), f"bad redirect {location[:200]!r}") from err
                    if nxt.scheme not in ("http", "https") or not nxt.host:
                        raise FetchRefused(str(target), f"redirect to {nxt} refused: not http(s)")
                    why = redirects(response.url, nxt)
                    if why:
                        raise FetchRefused(str(target), f"redirect to {nxt} refused: {why}")
                    if str(nxt) in seen:
                        raise FetchRefused(str(target), f"redirect loop at {nxt}")
                    seen.add(str(nxt))
                    target = nxt
                    continue
                return self._read(response, limits, sink)
            except AddressRefused as err:
                raise FetchRefused(str(target), str(err)) from err
            except httpx.HTTPError as err:
                raise self._transport_error(str(target), err, limits) from err
            finally:
                response.close()
        raise TooManyRedirects(url, f"more than {limits.max_redirects} redirects")

    def _read(
        self, response: httpx.Response, limits: Limits, sink: Callable[[bytes], None] | None
    ) -> Response:
        where = str(response.url)
        success = 200 <= response.status_code < 300
        cap = limits.max_bytes if success else min(limits.max_bytes, ERROR_BODY_LIMIT)
        declared = response.headers.get("Content-Length", "").strip()
        if success and declared.isascii() and declared.isdigit() and int(declared) > cap:
            raise FetchTooLarge(
                where, f"{int(declared)} bytes announced, over the {cap} byte limit"
            )
        # A response built whole in memory (httpx.MockTransport) is already read and decoded.
        whole = response.is_stream_consumed
        encoding = "" if whole else response.headers.get("Content-Encoding", "")
        decoder = _Decoder(encoding, where, cap)
        chunks = iter((response.content,)) if whole else response.iter_raw(CHUNK)
        body = bytearray()
        raw = 0
        state = _EXCHANGE.get()
        try:
            for chunk in chunks:
                if state is not None and self._clock() >= state.deadline:
                    # the socket reads stop there too; this covers any other transport
                    raise DeadlinePassed(where, f"not done within {limits.deadline:g}s")
                raw += len(chunk)
                if raw > cap:
                    raise FetchTooLarge(where, f"more than the {cap} byte limit; aborted")
                for piece in decoder.feed(chunk):
                    if sink is not None and success:
                        sink(piece)
                    else:
                        body += piece
        except FetchTooLarge:
            if success:
                raise
            # an error page past the small limit: its start is enough
        return Response(
            response.url, response.status_code, response.headers, bytes(body), decoder.size
        )

    def _transport_error(
        self, url: str, err: httpx.HTTPError, limits: Limits, reading: bool = True
    ) -> FetchError:
        """``reading``: the answer had begun (its body was being read)."""
        state = _EXCHANGE.get()
        if isinstance(err, httpx.TimeoutException):
            if state is not None and self._clock() >= state.deadline - 0.01:
                if reading:
                    return DeadlinePassed(url, f"not done within {limits.deadline:g}s")
                return FetchTimedOut(url, f"no answer within {limits.deadline:g}s")
            if isinstance(err, httpx.ConnectTimeout):
                return FetchTimedOut(url, "connection timed out")
            return FetchTimedOut(url, f"no data for {limits.read_timeout:g}s (stalled)")
        if isinstance(err, httpx.ConnectError):
            return FetchFailed(url, f"cannot connect ({err or type(err).__name__})")
        if isinstance(err, httpx.RemoteProtocolError):
            return FetchFailed(url, f"download cut short (truncated) or malformed: {err}")
        detail = f": {err}" if str(err) else ""
        return FetchFailed(url, f"{type(err).__name__}{detail}")


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
