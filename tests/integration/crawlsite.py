"""A small web site for crawl tests: real HTTP servers on 127.0.0.1 (and 127.0.0.2), with
the names of a Knot zone, so the browser's every connection can be checked.

``www.example.com`` is the site. Its front page loads a script, an image, an iframe and a
``fetch()`` beacon from four other names, shows a OneTrust-style banner whose accept
button loads a tracker, and links to a redirect, a page that never finishes loading, a
page opening 10,000 requests and a page that crashes the renderer (the server kills the
renderer process of the browser this test started, found among the test's descendants).
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.integration.dnsserver import Zone, zone

#: name -> address its A record gives (and the server that answers there).
NAMES = {
    "www.example.com": "127.0.0.1",
    "static.example.com": "127.0.0.1",
    "cdn.example.net": "127.0.0.1",
    "img.example.org": "127.0.0.2",
    "frame.example.net": "127.0.0.1",
    "beacon.example.org": "127.0.0.2",
    "tracker.example.org": "127.0.0.1",
    "ws.example.net": "127.0.0.2",
    "sw.example.net": "127.0.0.1",
    "secure.example.com": "127.0.0.1",
    "down.example.com": "127.0.0.1",
}
THIRD_PARTIES = ("cdn.example.net", "img.example.org", "frame.example.net", "beacon.example.org")


def site_zones() -> list[Zone]:
    by_zone: dict[str, list[str]] = {}
    for name, address in NAMES.items():
        label, _, origin = name.partition(".")
        by_zone.setdefault(origin, []).append(f"{label} A {address}")
    return [zone(origin, "\n".join(lines)) for origin, lines in by_zone.items()]


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_my_renderers() -> int:
    """SIGKILL the renderer processes of Chromiums this test process started."""
    killed = 0
    for pid in _descendants(os.getpid()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"--type=renderer" in command and b"--extension-process" not in command:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog is 5: a page opening 20 connections at once would
    # see SYNs dropped and retried a second later. Web servers listen with far more.
    request_queue_size = 1024


class Site:
    """Start with ``start()``; ``url(name, path)`` builds a URL on the site's port."""

    def __init__(self, pages: int = 0, third_parties: int = 0) -> None:
        self.port = 0
        self.tls_port = 0
        self.down_port = 0
        self.servers: list[ThreadingHTTPServer] = []
        self.hits: list[tuple[str, str, str]] = []  # (Host, path, address it came in on)
        self.pages = pages  # for the benchmark: /p/0 .. /p/N-1, each with third parties
        self.third_parties = third_parties
        self.stop_event = threading.Event()

    def url(self, name: str, path: str = "/") -> str:
        return f"http://{name}:{self.port}{path}"

    # ------------------------------------------------------------------ pages

    def front(self) -> str:
        u = self.url
        return f"""<!doctype html><html><head><title>Shop</title>
<script src="{u("cdn.example.net", "/lib.js")}"></script></head><body>
<h1>Shop</h1>
<img src="{u("img.example.org", "/pixel.gif")}">
<iframe src="{u("frame.example.net", "/widget.html")}"></iframe>
<div id="onetrust-banner-sdk">We use cookies
 <button id="onetrust-accept-btn-handler" onclick="accept()">Accept</button>
 <button id="onetrust-reject-all-handler" onclick="this.parentNode.remove()">Reject</button>
</div>
<a href="/about">about</a> <a href="/old">old</a> <a href="http://elsewhere.example.net/">x</a>
<script>
fetch("{u("beacon.example.org", "/collect")}", {{method: "POST", body: "v=1", mode: "no-cors"}});
navigator.sendBeacon("{u("static.example.com", "/beacon")}", "left=1");
var xhr = new XMLHttpRequest(); xhr.open("GET", "{u("static.example.com", "/data.json")}");
xhr.send();
new WebSocket("ws://ws.example.net:{self.port}/socket");
function accept() {{
  document.getElementById("onetrust-banner-sdk").remove();
  var s = document.createElement("script");
  s.src = "{u("tracker.example.org", "/track.js")}";
  document.head.appendChild(s);
}}
</script></body></html>"""

    def bench_page(self, index: int) -> str:
        u = self.url
        extra = "".join(
            f'<img src="{u(f"t{n}.example.net", f"/p{index}.gif")}">'
            for n in range(self.third_parties)
        )
        links = "".join(
            f'<a href="/p/{k}">p{k}</a> ' for k in range(index + 1, min(index + 6, self.pages))
        )
        return f"<!doctype html><title>p{index}</title><h1>{index}</h1>{extra}{links}"

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        host = (handler.headers.get("Host") or "").split(":")[0]
        path = handler.path
        self.hits.append((host, path, handler.server.server_address[0]))  # type: ignore[index]
        if host == "www.example.com":
            if path == "/":
                return _send(handler, 200, self.front())
            if path == "/about":
                return _send(handler, 200, "<!doctype html><title>About</title><p>about")
            if path == "/old":
                handler.send_response(302)
                handler.send_header("Location", "/new")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return None
            if path == "/new":
                return _send(handler, 200, "<!doctype html><title>New</title><p>moved here")
            if path == "/robots.txt":
                return _send(
                    handler, 200, "User-agent: residency\nDisallow: /private\n", "text/plain"
                )
            if path == "/hang":
                img = self.url("static.example.com", "/slow.gif")
                return _send(handler, 200, f"<!doctype html><title>hang</title><img src='{img}'>")
            if path == "/flood":
                return _send(
                    handler,
                    200,
                    "<!doctype html><title>flood</title><script>"
                    "for (let i = 0; i < 10000; i++) fetch('/n?' + i).catch(() => 0);</script>",
                )
            if path == "/crash":
                slow = self.url("static.example.com", "/crash-now.gif")
                return _send(handler, 200, f"<!doctype html><title>c</title><img src='{slow}'>")
            if path == "/offline":
                return _send(
                    handler,
                    200,
                    "<!doctype html><title>sw</title><script>"
                    "navigator.serviceWorker.register('/sw.js');</script>",
                )
            if path == "/sw.js":
                ping = self.url("sw.example.net", "/installed")
                return _send(
                    handler,
                    200,
                    "self.addEventListener('install', e => e.waitUntil("
                    f"fetch('{ping}', {{mode: 'no-cors'}})));",
                    "text/javascript",
                )
            if path.startswith("/p/"):
                return _send(handler, 200, self.bench_page(int(path[3:])))
        if path == "/socket" and handler.headers.get("Upgrade", "").lower() == "websocket":
            key = handler.headers.get("Sec-WebSocket-Key", "")
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            handler.send_response(101)
            handler.send_header("Upgrade", "websocket")
            handler.send_header("Connection", "Upgrade")
            handler.send_header("Sec-WebSocket-Accept", accept)
            handler.end_headers()
            handler.wfile.flush()
            self.stop_event.wait(2)
            handler.close_connection = True
            return None
        if host == "static.example.com" and path == "/slow.gif":
            self.stop_event.wait(120)  # never answers while the test runs
            return None
        if host == "static.example.com" and path == "/crash-now.gif":
            kill_my_renderers()
            self.stop_event.wait(30)
            return None
        if path.endswith(".js"):
            return _send(handler, 200, "var loaded = 1;", "text/javascript")
        if path.endswith(".gif"):
            return _send(handler, 200, GIF, "image/gif")
        return _send(handler, 200, "<!doctype html><title>w</title><p>widget")

    # ------------------------------------------------------------------ servers

    def start(self, tls_cert: Path | None = None, tls_key: Path | None = None) -> Site:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # as web servers do (nginx tcp_nodelay): headers and body are two writes,
                # and Nagle would hold the body back for the peer's delayed ACK
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                site.respond(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(min(length, 65536))
                site.respond(self)

            def log_message(self, *args: object) -> None:
                pass

        first = _Server(("127.0.0.1", 0), Handler)
        self.port = first.server_address[1]
        second = _Server(("127.0.0.2", self.port), Handler)
        self.servers = [first, second]
        if tls_cert is not None and tls_key is not None:
            secure = _Server(("127.0.0.1", 0), Handler)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls_cert, tls_key)
            secure.socket = context.wrap_socket(secure.socket, server_side=True)
            self.tls_port = secure.server_address[1]
            self.servers.append(secure)
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
        with socket.socket() as probe:  # a port with nothing listening: "unreachable"
            probe.bind(("127.0.0.1", 0))
            self.down_port = probe.getsockname()[1]
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for server in self.servers:
            server.shutdown()
            server.server_close()
        time.sleep(0)


def _send(
    handler: BaseHTTPRequestHandler, status: int, body: str | bytes, kind: str = "text/html"
) -> None:
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
