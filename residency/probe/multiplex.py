"""Socket steps as generators, so one thread drives many probes at once (``Multiplexer``)
or one probe alone (``drive``), with the same code.

A step generator yields ``(socket, event, deadline)`` when it must wait: the driver resumes it
when the socket is ready, or throws ``TimeoutError`` into it once ``deadline``
(``time.monotonic``) passes. ``socket`` None is a plain timer: resumed at ``deadline``.
A generator that raises closes what it opened first.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import os
import queue
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
Wait = tuple[socket.socket | None, int, float]
Steps = Generator[Wait, None, T]


def sleep_until(moment: float) -> Steps[None]:
    if moment > time.monotonic():
        yield None, 0, moment


def connect(ip: str, port: int, timeout: float) -> Steps[socket.socket]:
    """A TCP connection to ``ip:port`` (a literal address: no name lookup)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    raw = socket.socket(family, socket.SOCK_STREAM)
    try:
        raw.setblocking(False)
        code = raw.connect_ex((ip, port))
        if code in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            yield raw, WRITE, time.monotonic() + timeout
            code = raw.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))  # ECONNREFUSED: ConnectionRefusedError
    except BaseException:
        raw.close()
        raise
    return raw


def handshake(
    context: ssl.SSLContext, raw: socket.socket, host: str, timeout: float
) -> Steps[ssl.SSLSocket]:
    """The TLS handshake on ``raw`` with SNI ``host``; ``raw`` is closed if it fails."""
    try:
        tls = context.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False)
    except BaseException:
        raw.close()
        raise
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                tls.do_handshake()
                return tls
            except ssl.SSLWantReadError:
                yield tls, READ, deadline
            except ssl.SSLWantWriteError:
                yield tls, WRITE, deadline
    except BaseException:
        tls.close()
        raise


def send_all(connection: socket.socket, data: bytes, deadline: float) -> Steps[None]:
    view = memoryview(data)
    while view:
        try:
            view = view[connection.send(view) :]
        except (ssl.SSLWantWriteError, BlockingIOError):
            yield connection, WRITE, deadline
        except ssl.SSLWantReadError:
            yield connection, READ, deadline


def receive(connection: socket.socket, deadline: float) -> Steps[bytes]:
    """What arrives next (b"" at the end of the stream)."""
    while True:
        try:
            return connection.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            yield connection, READ, deadline
        except ssl.SSLWantWriteError:
            yield connection, WRITE, deadline


def drive(steps: Steps[T]) -> T:
    """Run one step generator to its end in this thread."""
    with selectors.DefaultSelector() as selector:
        try:
            wait = next(steps)
            while True:
                sock, event, deadline = wait
                left = deadline - time.monotonic()
                if sock is None:
                    if left > 0:
                        time.sleep(left)
                    wait = next(steps)
                    continue
                ready = False
                if left > 0:
                    selector.register(sock, event)
                    ready = bool(selector.select(left))
                    selector.unregister(sock)
                wait = next(steps) if ready else steps.throw(TimeoutError("timed out"))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            steps.close()


class Handoff(Generic[R]):
    """What a step generator returns when the rest of its work blocks (a second request
    through httpx, a registry lookup): ``work`` runs on a worker thread."""

    __slots__ = ("work",)

    def __init__(self, work: Callable[[], R]) -> None:
        self.work = work


class Multiplexer:
    """Runs one step generator per item, at most ``limit`` at once, in this thread; a
    generator that returns a ``Handoff`` finishes on one of ``pool``'s threads, still
    counted against ``limit``."""

    def __init__(self, limit: int, pool: ThreadPoolExecutor) -> None:
        self.limit = limit
        self.pool = pool

    def run(self, count: int, start: Callable[[int], Steps[R | Handoff[R]]]) -> list[R]:
        """``start(i)`` for each ``i`` in ``range(count)``; their results in that order."""
        results: list[R | None] = [None] * count
        selector = selectors.DefaultSelector()
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        waking, closed = threading.Lock(), False
        selector.register(wake_read, READ, None)
        finished: queue.SimpleQueue[tuple[int, Future[R]]] = queue.SimpleQueue()
        timers: list[tuple[float, int, int]] = []  # (deadline, token, index)
        running: dict[int, tuple[Steps[R | Handoff[R]], int, socket.socket | None]] = {}
        handed = 0
        token = 0
        following = 0

        def step(index: int, steps: Steps[R | Handoff[R]], timed_out: bool) -> None:
            nonlocal token, handed
            try:
                wait = steps.throw(TimeoutError("timed out")) if timed_out else next(steps)
            except StopIteration as done:
                del running[index]
                if isinstance(done.value, Handoff):
                    handed += 1
                    future = self.pool.submit(done.value.work)
                    future.add_done_callback(lambda f: _finished(index, f))
                else:
                    results[index] = done.value
                return
            sock, event, deadline = wait
            token += 1
            running[index] = (steps, token, sock)
            if sock is not None:
                selector.register(sock, event, index)
            heapq.heappush(timers, (deadline, token, index))

        def _finished(index: int, future: Future[R]) -> None:
            with waking:  # not while the loop closes the wake-up pair
                finished.put((index, future))
                if not closed:
                    with contextlib.suppress(BlockingIOError):  # the loop is awake already
                        wake_write.send(b"x")

        try:
            while True:
                while following < count and len(running) + handed < self.limit:
                    following += 1
                    generator = start(following - 1)
                    running[following - 1] = (generator, -1, None)
                    step(following - 1, generator, False)
                if not running and not handed:
                    break  # everything admitted has finished (some without ever waiting)
                timeout = None
                if timers:
                    timeout = max(0.0, timers[0][0] - time.monotonic())
                for key, _ in selector.select(timeout):
                    if key.data is None:
                        with contextlib.suppress(BlockingIOError):
                            while wake_read.recv(4096):
                                pass
                        continue
                    index = key.data
                    selector.unregister(key.fileobj)
                    steps, _, _ = running[index]
                    step(index, steps, False)
                while not finished.empty():
                    index, future = finished.get()
                    handed -= 1
                    results[index] = future.result()  # a bug there surfaces here
                now = time.monotonic()
                while timers and timers[0][0] <= now:
                    _, mark, index = heapq.heappop(timers)
                    entry = running.get(index)
                    if entry is None or entry[1] != mark:
                        continue  # already resumed: a stale timer
                    steps, _, sock = entry
                    if sock is not None:
                        selector.unregister(sock)
                    step(index, steps, sock is not None)
        finally:
            for steps, _, _ in running.values():
                steps.close()
            selector.close()
            with waking:
                closed = True
                wake_read.close()
                wake_write.close()
        return cast(list[R], results)
