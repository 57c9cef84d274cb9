"""A real capture with its TLS keys: dumpcap records TLS exchanges on loopback whose HTTP
Host (HTTP/1.1) or ``:authority`` (HTTP/2) differs from the SNI or follows no SNI at all,
``editcap --inject-secrets`` writes the client's key log into the pcapng (a Decryption
Secrets Block), and the audit reads the name inside TLS with tshark, observed at the
address the client connected to."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import httpx
import pytest

from residency.endpoints import read_input
from tests.integration.test_capture import recording
from tests.probe.certs import Authority, Pair
from tests.probe.servers import answer, tls_server
from tests.support import accept_until, require_binary

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _get(port: int, sni: str | None, host: str, keylog: Path) -> None:
    """One HTTPS request: ``sni`` in the ClientHello (None: no SNI), ``host`` in Host."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the point is the key log, not the certificate
    context.keylog_filename = str(keylog)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        assert tls.recv(4096).startswith(b"HTTP/1.1 204")


@contextlib.contextmanager
def h2_server(pair: Pair) -> Iterator[int]:
    """An HTTP/2 server over TLS (ALPN h2) on 127.0.0.1 answering 204 to each request,
    one connection at a time (the h2 library, as httpx's own HTTP/2 uses)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert, pair.key)
    context.set_alpn_protocols(["h2"])
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(5)
            h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            h2c.initiate_connection()
            tls.sendall(h2c.data_to_send())
            while data := tls.recv(65536):
                for event in h2c.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        h2c.send_headers(event.stream_id, [(":status", "204")], end_stream=True)
                tls.sendall(h2c.data_to_send())

    def serve_quietly(conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):  # the client hung up: the next
            serve(conn)

    thread = threading.Thread(
        target=accept_until, args=(listener, stop, serve_quietly), daemon=True
    )
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _get_h2(port: int, authority: str, keylog: Path) -> None:
    """One HTTP/2 request to the address (no SNI: an IP literal) for ``authority``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.keylog_filename = str(keylog)
    with httpx.Client(http2=True, verify=context, trust_env=False) as client:
        response = client.get(f"https://127.0.0.1:{port}/", headers={"Host": authority})
    assert (response.http_version, response.status_code) == ("HTTP/2", 204)


def _keyed_capture(tmp_path: Path, port: int, exchange: Callable[[], None]) -> Path:
    """The loopback traffic of ``exchange()`` to ``port``, its TLS keys injected."""
    dumpcap = require_binary("dumpcap")
    editcap = require_binary("editcap")
    require_binary("tshark")
    captured, keyed = tmp_path / "in.pcapng", tmp_path / "out.pcapng"
    command = [dumpcap, "-i", "lo", "-w", str(captured), "-f", f"tcp port {port}"]
    with recording(command, "Capturing on"):
        exchange()
    subprocess.run(
        [editcap, "--inject-secrets", f"tls,{tmp_path / 'keys.log'}", str(captured), str(keyed)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return keyed


def test_the_http2_authority_inside_decrypted_tls_is_an_endpoint(tmp_path: Path) -> None:
    pair = Authority(tmp_path).leaf("leaf", ["h2.tls.test"])
    keylog = tmp_path / "keys.log"
    with h2_server(pair) as port:
        keyed = _keyed_capture(tmp_path, port, lambda: _get_h2(port, "h2.tls.test", keylog))
    targets = read_input(keyed)
    seen = {e.host: e.observed for e in targets.endpoints}
    assert [(o.ip, o.context.split(":")[0]) for o in seen["h2.tls.test"]] == [
        ("127.0.0.1", "pcap decrypted TLS")
    ]
    assert "HTTP/2 :authority" in seen["h2.tls.test"][0].context


def test_the_host_inside_decrypted_tls_is_an_endpoint_at_the_observed_address(
    tmp_path: Path,
) -> None:
    pair = Authority(tmp_path).leaf("leaf", ["front.tls.test"])
    keylog = tmp_path / "keys.log"

    def exchange() -> None:
        _get(port, "front.tls.test", "back.tls.test", keylog)  # Host differs from SNI
        _get(port, None, "hidden.tls.test", keylog)  # no SNI at all

    with tls_server(pair, answer("204 No Content", {})) as port:
        keyed = _keyed_capture(tmp_path, port, exchange)
    plain = read_input(tmp_path / "in.pcapng")  # the same capture without its keys
    assert {e.host for e in plain.endpoints} == {"front.tls.test", "127.0.0.1"}
    targets = read_input(keyed)
    seen = {e.host: e.observed for e in targets.endpoints}
    for host in ("back.tls.test", "hidden.tls.test"):
        assert [o.ip for o in seen[host]] == ["127.0.0.1"], host
        assert seen[host][0].context.startswith("pcap decrypted TLS: HTTP Host: once")
    assert [o.ip for o in seen["front.tls.test"]] == ["127.0.0.1"]  # the SNI, as before
    notes = [n for n in targets.notes if "TLS secrets" in n]
    assert len(notes) == 1
    assert "tshark read 2 name(s) inside decrypted TLS" in notes[0]
