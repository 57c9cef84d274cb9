"""An HTTP client for webhooks whose every exchange has one deadline and can be cancelled.

httpx's timeouts are per operation: a receiver that drips its status line one byte a
second never trips a read timeout, and a POST blocked in ``recv`` does not see SIGTERM.
Here every read, write and connect of a request runs in slices of at most
``CHECK_EVERY`` seconds against the deadline of the whole exchange (connect, request,
status line, headers and body) and a cancel event, set by ``bounded()`` around the call.

``residency.http`` bounds its fetches the same way but has no cancel event and refuses
private addresses, where webhooks (Alertmanager, a chat relay) usually live; this client
is for the addresses the user configured.
"""

from __future__ import annotations

import ssl
import threading
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore
import httpx

from residency.http import USER_AGENT

#: Longest wait between two looks at the deadline and the cancel event.
CHECK_EVERY = 0.25


@dataclass(frozen=True)
class _Budget:
    deadline: float  # time.monotonic()
    cancel: threading.Event | None

    def left(self) -> float:
        if self.cancel is not None and self.cancel.is_set():
            raise httpcore.ReadError("cancelled: the monitor is stopping")
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("deadline of the whole exchange passed")
        return left


_local = threading.local()


def _budget() -> _Budget | None:
    return typing.cast(_Budget | None, getattr(_local, "budget", None))


@contextmanager
def bounded(seconds: float, cancel: threading.Event | None = None) -> Iterator[None]:
    """Every exchange of a ``deadline_client`` in this block ends within ``seconds`` (or
    as soon as ``cancel`` is set), with an ``httpx`` timeout or read error. Nested blocks
    keep the tighter deadline and the outer cancel event."""
    previous = _budget()
    deadline = time.monotonic() + seconds
    if previous is not None:  # nested: the tighter deadline, the outer cancel event
        deadline = min(deadline, previous.deadline)
        cancel = cancel or previous.cancel
    _local.budget = _Budget(deadline, cancel)
    try:
        yield
    finally:
        _local.budget = previous


def _sliced(call: typing.Callable[[float | None], typing.Any], timeout: float | None) -> typing.Any:
    """Run ``call(t)`` in slices until it returns, the caller's own ``timeout`` passes,
    or the budget runs out / is cancelled."""
    budget = _budget()
    if budget is None:
        return call(timeout)
    started = time.monotonic()
    while True:
        left = budget.left()
        if timeout is not None:
            left = min(left, timeout - (time.monotonic() - started))
            if left <= 0:
                raise httpcore.ReadTimeout("timed out")
        try:
            return call(min(left, CHECK_EVERY))
        except (httpcore.ReadTimeout, httpcore.WriteTimeout):
            continue  # a slice ended: look at the deadline and the cancel event again


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return typing.cast(bytes, _sliced(lambda t: self._inner.read(max_bytes, t), timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # A partial write cannot be resumed: the whole write gets what is left.
        budget = _budget()
        if budget is not None:
            left = budget.left()
            timeout = left if timeout is None else min(timeout, left)
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        budget = _budget()
        if budget is not None:
            left = budget.left()
            timeout = left if timeout is None else min(timeout, left)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        budget = _budget()
        if budget is not None:
            left = budget.left()
            timeout = left if timeout is None else min(timeout, left)
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_client(timeout: float = 10.0) -> httpx.Client:
    """An ``httpx.Client`` (proxies from the environment as usual) whose exchanges obey
    ``bounded()``. Outside ``bounded()`` it behaves as a plain client."""
    # residency's one user agent; the proxy from the environment is kept: a webhook is an
    # address the user configured, not one an audited party chose.
    client = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})
    transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        inner = getattr(pool, "_network_backend", None)
        if inner is None:
            client.close()
            raise RuntimeError("httpx/httpcore changed: cannot bound webhook exchanges")
        pool._network_backend = _Backend(inner)  # type: ignore[union-attr]
    return client
