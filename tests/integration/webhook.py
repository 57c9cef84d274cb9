"""Local webhook receivers on 127.0.0.1 for the alert-delivery tests.

``Receiver`` answers every POST and counts, from the receiver's side, which drift event
ids arrived and how often. ``mode`` makes it misbehave:

- ``ok``: 200 at once;
- ``slow``: read the body, wait ``delay`` seconds, then 200;
- ``drip``: send the status line one byte per ``delay`` seconds, for ever;
- ``stall``: read the body and never answer;
- ``error``: 503 at once.

A refused webhook is a closed port: ``closed_port()``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Tally:
    posts: int = 0
    answered: int = 0  # POSTs that got a 2xx from us
    events: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    mode = "ok"
    delay = 1.0
    tally: Tally
    stopping: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        server = self.server
        with server.tally.lock:
            server.tally.posts += 1
        if server.mode == "drip":
            for byte in b"HTTP/1.1 200 OK\r\n":
                if server.stopping.wait(server.delay):
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return
            server.stopping.wait()
            return
        if server.mode == "stall":
            server.stopping.wait()
            return
        if server.mode == "slow":
            server.stopping.wait(server.delay)
        if server.mode == "error":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            ids = [int(e["id"]) for e in json.loads(body)["events"]]
        except (ValueError, KeyError, TypeError):
            ids = []
        with server.tally.lock:
            server.tally.answered += 1
            server.tally.events.update(ids)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Receiver:
    """A webhook receiver in a thread; use as a context manager."""

    def __init__(self, mode: str = "ok", delay: float = 1.0) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.mode = mode
        self.server.delay = delay
        self.server.tally = Tally()
        self.server.stopping = threading.Event()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret"

    @property
    def tally(self) -> Tally:
        return self.server.tally

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_posts(self, count: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.tally.posts >= count:
                return True
            time.sleep(0.05)
        return False


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
