"""The /metrics listener: loopback by default, a deep backlog, and a deadline per
connection, so a burst of scrapes queues instead of failing and a slow client (slowloris)
cannot hold a thread for longer than ``CONNECTION_DEADLINE``."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.registry import CollectorRegistry

#: Connections the kernel queues while every handler thread is busy (1,000 simultaneous
#: scrapes are served, not refused; the kernel may cap it at net.core.somaxconn).
BACKLOG = 1024
#: Seconds one read from a client may wait.
READ_TIMEOUT = 5.0
#: Seconds a whole connection may last (a client dripping its request line is cut).
CONNECTION_DEADLINE = 15.0


class _Reaper:
    """Shuts down connections that outlived their deadline: one thread for all of them,
    instead of one timer each."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._open: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-reaper", daemon=True)
        self._thread.start()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._open[sock] = time.monotonic() + self.deadline

    def remove(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.pop(sock, None)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            now = time.monotonic()
            with self._lock:
                late = [s for s, end in self._open.items() if end <= now]
                for sock in late:
                    del self._open[sock]
            for sock in late:
                # shutdown wakes the handler blocked in recv; it then ends as on EOF.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = BACKLOG
    reaper: _Reaper

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client cut for being slow, or gone: not worth a traceback on stderr


class _Handler(WSGIRequestHandler):
    timeout = READ_TIMEOUT  # StreamRequestHandler sets it on the connection
    server: _Server

    def setup(self) -> None:
        self.server.reaper.add(self.request)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.reaper.remove(self.request)

    def log_message(self, format: str, *args: Any) -> None:
        return  # scrapes are not news


def serve_metrics(
    addr: str, port: int, registry: CollectorRegistry
) -> tuple[tuple[str, int], Callable[[], None]]:
    """Serve ``registry`` on http://addr:port/metrics from daemon threads.

    Returns the address bound and a stop function. ``OSError`` if it cannot listen.
    """
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    class Server(_Server):
        address_family = family

    server = make_server(addr, port, make_wsgi_app(registry), Server, handler_class=_Handler)
    server.reaper = _Reaper(CONNECTION_DEADLINE)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    bound = server.server_address

    def stop() -> None:
        server.shutdown()
        server.server_close()
        server.reaper.stop()
        thread.join(timeout=5)

    return (str(bound[0]), int(bound[1])), stop
