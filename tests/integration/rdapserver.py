"""A small RDAP server on 127.0.0.1 for integration tests (http.server in a thread).

It answers ``GET /ip/<address>`` with the recorded RDAP network object that covers the
address (like a registry would), ``/bootstrap/ip/<address>`` with a redirect to it
(like a bootstrap redirector), and 404 otherwise. Tests can queue scripted answers
(429, 5xx, malformed bodies), add a delay, and read which paths were requested.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


class RdapServer:
    def __init__(self, networks: Iterable[Mapping[str, Any]], delay: float = 0.0) -> None:
        self.networks = [dict(n) for n in networks]
        self.delay = delay
        self.requests: list[str] = []
        self.scripted: deque[Scripted] = deque()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopped = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, status: int, body: bytes = b"", **headers: str) -> None:
        """Answer the next request with this instead of the recorded data."""
        self.scripted.append(
            Scripted(status, body, {k.replace("_", "-"): v for k, v in headers.items()})
        )

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # ----------------------------------------------------------------- serving

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append(handler.path)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            scripted = self.scripted.popleft() if self.scripted else None
        try:
            if self.delay:
                time.sleep(self.delay)
            if scripted is not None:
                self._send(handler, scripted.status, scripted.body, scripted.headers)
                return
            path = handler.path
            if path.startswith("/bootstrap/ip/"):
                target = path.removeprefix("/bootstrap")
                self._send(handler, 302, b"", {"Location": f"{self.base_url}{target}"})
                return
            if not path.startswith("/ip/"):
                self._send(handler, 404, b"")
                return
            document = self._network_for(path.removeprefix("/ip/"))
            if document is None:
                body = json.dumps({"errorCode": 404, "title": "Not Found"}).encode()
                self._send(handler, 404, body, {"Content-Type": "application/rdap+json"})
                return
            body = json.dumps(document).encode()
            self._send(handler, 200, body, {"Content-Type": "application/rdap+json"})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests): nothing to answer
        finally:
            with self._lock:
                self.in_flight -= 1

    def _network_for(self, text: str) -> dict[str, Any] | None:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
        for document in self.networks:
            try:
                first = ipaddress.ip_address(_plain(document["startAddress"]))
                last = ipaddress.ip_address(_plain(document["endAddress"]))
            except (KeyError, ValueError):
                continue
            if first.version == address.version and int(first) <= int(address) <= int(last):
                return document
        return None

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: Mapping[str, str]
    ) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def _plain(text: str) -> str:
    """Registry quirks: "062.239.237.000" and "2a00::/128" style addresses."""
    text = text.split("/")[0].strip()
    if "." in text and ":" not in text:
        text = ".".join(str(int(part)) for part in text.split("."))
    return text
