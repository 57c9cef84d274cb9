"""A small RDAP server on 127.0.0.1 for integration tests (http.server in a thread).

It answers ``GET /ip/<address>`` with the recorded RDAP network object that covers the
address (like a registry would), ``/bootstrap/ip/<address>`` with a redirect to it
(like a bootstrap redirector), ``GET /domain/<name>`` with the domain object recorded for
that name (a dict is sent as JSON, bytes as they are), and 404 otherwise. Tests can queue
scripted answers (429, 5xx, malformed bodies), add a delay, and read which paths were
requested.

``behaviours`` maps a queried address to a handler that misbehaves for it (the hostile
suite): an implausible network, bodies that are huge, dripped, deeply nested or of the
wrong types, redirects off the allowed hosts or in a loop. See ``HOSTILE``.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


#: A misbehaving answer: gets the request handler and the server, writes the response.
Behaviour = Callable[[BaseHTTPRequestHandler, "RdapServer"], None]


class RdapServer:
    def __init__(
        self,
        networks: Iterable[Mapping[str, Any]],
        delay: float = 0.0,
        behaviours: Mapping[str, Behaviour] | None = None,
        domains: Mapping[str, Mapping[str, Any] | bytes] | None = None,
    ) -> None:
        self.networks = [dict(n) for n in networks]
        self.domains = dict(domains or {})
        self.delay = delay
        self.behaviours = dict(behaviours or {})
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
        counted = True
        try:
            if self.delay:
                time.sleep(self.delay)
            # The request stops counting as in flight before its answer is written: once
            # the client has read the answer it may send its next request, which must not
            # overlap this handler's bookkeeping (a false 3 under a cap of 2).
            with self._lock:
                self.in_flight -= 1
                counted = False
            if scripted is not None:
                self._send(handler, scripted.status, scripted.body, scripted.headers)
                return
            path = handler.path
            behaviour = self.behaviours.get(path.rsplit("/", 1)[-1])
            if behaviour is not None and path.startswith(("/ip/", "/loop/")):
                behaviour(handler, self)
                return
            if "/domain/" in path:
                self._send_domain(handler, path)
                return
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
            if counted:
                with self._lock:
                    self.in_flight -= 1

    def _send_domain(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        """The object recorded for the whole path (a registrar's ``/registrar/domain/x``)
        or for the name after ``/domain/``."""
        name = path.rsplit("/domain/", 1)[-1].lower()
        document = self.domains.get(path, self.domains.get(name))
        if document is None:
            body = json.dumps({"errorCode": 404, "title": "Not Found"}).encode()
            self._send(handler, 404, body, {"Content-Type": "application/rdap+json"})
            return
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self._send(handler, 200, body, {"Content-Type": "application/rdap+json"})

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


# --------------------------------------------------------------- hostile answers


def _json(handler: BaseHTTPRequestHandler, document: Any) -> None:
    RdapServer._send(
        handler, 200, json.dumps(document).encode(), {"Content-Type": "application/rdap+json"}
    )


def _network(start: str, end: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "objectClassName": "ip network",
        "handle": f"NET-{name}",
        "startAddress": start,
        "endAddress": end,
        "ipVersion": "v6" if ":" in start else "v4",
        "name": name,
        "port43": "whois.arin.net",
        "entities": [
            {
                "handle": "AMAZON-4",
                "roles": ["registrant"],
                "vcardArray": ["vcard", [["fn", {}, "text", "Amazon.com, Inc."]]],
            }
        ],
        **extra,
    }


def whole_internet(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    """One answer claiming all of IPv4: cached, it would answer for every address."""
    _json(handler, _network("0.0.0.0", "255.255.255.255", "AMAZON-ALL"))


def whole_ipv6(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    _json(handler, _network("2000::", "2fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "AMAZON-V6"))


def somewhere_else(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    """A network that does not contain the queried address."""
    _json(handler, _network("74.125.0.0", "74.125.255.255", "GOOGLE"))


def deep_nesting(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    """200 000 nested arrays (400 kB): the JSON decoder's recursion gives out."""
    body = b"[" * 200_000 + b"]" * 200_000
    RdapServer._send(handler, 200, body, {"Content-Type": "application/rdap+json"})


def deep_entities(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    """Valid JSON, entities nested 300 deep: decodable, but no parser may recurse on it."""
    entity: dict[str, Any] = {"handle": "LEAF", "roles": ["registrant"]}
    for n in range(300):
        entity = {"handle": f"E{n}", "entities": [entity]}
    _json(handler, _network("13.248.0.0", "13.248.255.255", "DEEP", entities=[entity]))


def wrong_types(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    _json(handler, {"handle": "NET-1", "startAddress": 5, "endAddress": 6, "ipVersion": "v4"})


def wrong_types_inside(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    """Well-typed range, but a handle, an entity and a vCard of the wrong types."""
    document = _network("13.249.0.0", "13.249.255.255", "TYPES")
    document["name"] = ["not", "a", "string"]
    document["entities"] = [
        {"handle": 7, "roles": "registrant"},
        {"handle": "X", "vcardArray": ["vcard", [["fn", {}, "text", 12]]]},
    ]
    _json(handler, document)


def huge_body(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    """A 50 MB JSON body, generated as it is sent (never held in memory here)."""
    chunk = b"A" * 65536
    count = 50 * 1024 * 1024 // len(chunk)
    head, tail = b'{"handle": "NET-HUGE", "name": "', b'"}'
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rdap+json")
    handler.send_header("Content-Length", str(len(head) + count * len(chunk) + len(tail)))
    handler.end_headers()
    handler.wfile.write(head)
    for _ in range(count):
        handler.wfile.write(chunk)
    handler.wfile.write(tail)


def slow_drip(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    """A valid-looking answer, one byte per second, for longer than any test waits."""
    body = json.dumps(_network("13.250.0.0", "13.250.255.255", "DRIP")).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rdap+json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    for byte in _drip(body):
        handler.wfile.write(byte)
        handler.wfile.flush()
        if server._stopped:
            return
        time.sleep(1.0)


def _drip(body: bytes) -> Iterator[bytes]:
    for n in range(len(body)):
        yield body[n : n + 1]


def redirect_off_list(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    """A redirect to a host outside the allowed RDAP hosts (it must not be followed)."""
    address = handler.path.rsplit("/", 1)[-1]
    RdapServer._send(handler, 302, b"", {"Location": f"https://rdap.invalid/ip/{address}"})


def redirect_loop(handler: BaseHTTPRequestHandler, server: RdapServer) -> None:
    """``/ip/X`` and ``/loop/X`` redirect to each other for ever (same, allowed host)."""
    address = handler.path.rsplit("/", 1)[-1]
    other = "/loop/" if handler.path.startswith("/ip/") else "/ip/"
    RdapServer._send(handler, 302, b"", {"Location": f"{server.base_url}{other}{address}"})


#: Every hostile behaviour by name, for tests that parametrise over them.
HOSTILE: dict[str, Behaviour] = {
    "whole-internet": whole_internet,
    "whole-ipv6": whole_ipv6,
    "somewhere-else": somewhere_else,
    "deep-nesting": deep_nesting,
    "deep-entities": deep_entities,
    "wrong-types": wrong_types,
    "wrong-types-inside": wrong_types_inside,
    "huge-body": huge_body,
    "slow-drip": slow_drip,
    "redirect-off-list": redirect_off_list,
    "redirect-loop": redirect_loop,
}
