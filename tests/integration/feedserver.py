"""A small HTTP server on 127.0.0.1 serving geofeeds, good and broken (RFC 9092 tests).

``routes`` maps a path to a handler writing the whole response; ``requests`` lists the
paths asked for, so tests can count fetches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[[BaseHTTPRequestHandler, "FeedServer"], None]


class FeedServer:
    def __init__(self, routes: Mapping[str, Route]) -> None:
        self.routes = dict(routes)
        self.requests: list[str] = []
        self.stopped = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                try:
                    if route is None:
                        send(self, 404, b"not found", "text/plain")
                    else:
                        route(self, server)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    ctype: str = "text/csv",
    headers: Mapping[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def csv_route(body: bytes, ctype: str = "text/csv") -> Route:
    return lambda handler, server: send(handler, 200, body, ctype)


def redirect_route(location: Callable[[FeedServer], str]) -> Route:
    return lambda handler, server: send(handler, 302, b"", headers={"Location": location(server)})


def truncated_route(body: bytes) -> Route:
    """Announces twice the body's length, sends the body and closes: a cut download."""

    def route(handler: BaseHTTPRequestHandler, server: FeedServer) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Content-Length", str(2 * len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
        handler.close_connection = True

    return route


def stalled_route(head: bytes) -> Route:
    """Sends the headers and a first line, then nothing until the server stops."""

    def route(handler: BaseHTTPRequestHandler, server: FeedServer) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Content-Length", str(len(head) + 1000))
        handler.end_headers()
        handler.wfile.write(head)
        handler.wfile.flush()
        server.stopped.wait(30)

    return route


def endless_route(chunk: bytes = b"81.2.69.0/24,DE,,\n" * 4096) -> Route:
    """A body with no Content-Length, sent until the client hangs up (oversized)."""

    def route(handler: BaseHTTPRequestHandler, server: FeedServer) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.end_headers()
        handler.close_connection = True
        deadline = time.monotonic() + 20
        while not server.stopped.is_set() and time.monotonic() < deadline:
            handler.wfile.write(chunk)

    return route
