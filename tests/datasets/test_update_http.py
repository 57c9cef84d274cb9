"""The real httpx path against a real HTTP server on 127.0.0.1: conditional GETs, fail-fast."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from residency.datasets.download import make_client
from residency.datasets.manifest import load_manifest
from residency.datasets.update import Status, update
from tests.datasets.update_helpers import (
    CF_V4,
    CF_V6,
    FakeMirror,
    cloudflare_source,
    cloudip_bytes,
    cloudip_source,
)

pytestmark = pytest.mark.integration


class FeedServer(ThreadingHTTPServer):
    files: dict[str, bytes]
    modified: dict[str, float]
    log: list[tuple[str, str, dict[str, str]]]


class Handler(BaseHTTPRequestHandler):
    server: FeedServer

    def do_GET(self) -> None:
        headers = {k: v for k, v in self.headers.items()}
        self.server.log.append(("GET", self.path, headers))
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        last_modified = formatdate(self.server.modified[self.path], usegmt=True)
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer(("127.0.0.1", 0), Handler)
    server.files = {"/ips-v4": CF_V4, "/ips-v6": CF_V6}
    server.modified = {"/ips-v4": 1795000000.0, "/ips-v6": 1795000000.0}
    server.log = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def base_url(server: FeedServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def test_real_server_download_then_304_then_change(tmp_path: Path, feed_server: FeedServer) -> None:
    source = cloudflare_source(base_url(feed_server))
    with make_client() as client:
        first = update(directory=tmp_path, sources={source.id: source}, client=client, mirrors={})
        assert first.outcomes[0].status is Status.UPDATED
        entry = load_manifest(tmp_path).entries["cloudflare-ips"]
        assert entry.files[0].sha256 == hashlib.sha256(CF_V4).hexdigest()
        assert entry.files[0].last_modified == formatdate(1795000000.0, usegmt=True)

        second = update(directory=tmp_path, sources={source.id: source}, client=client, mirrors={})
        assert second.outcomes[0].status is Status.NOT_MODIFIED
        sent = [h for _, _, h in feed_server.log[-2:]]
        assert all(h.get("If-None-Match") == f.etag for h, f in zip(sent, entry.files, strict=True))
        assert all("If-Modified-Since" in h for h in sent)

        feed_server.files["/ips-v6"] = CF_V6 + b"2a06:98c0::/29\n"
        third = update(directory=tmp_path, sources={source.id: source}, client=client, mirrors={})
        assert third.outcomes[0].status is Status.UPDATED
    assert b"2a06:98c0::/29" in (tmp_path / "raw/cloudflare-ips/ips-v6.txt").read_bytes()


def test_unreachable_official_url_fails_fast_then_mirror(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = cloudip_source(f"http://127.0.0.1:{port}")
    began = time.monotonic()
    report = update(
        directory=tmp_path,
        sources={source.id: source},
        client=make_client(),
        mirrors={"wheel": FakeMirror([cloudip_bytes()])},
    )
    assert time.monotonic() - began < 3
    outcome = report.outcomes[0]
    assert outcome.status is Status.FROM_MIRROR
    assert "cannot connect" in outcome.problems[0]
