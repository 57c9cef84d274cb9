"""A real capture with its TLS keys: dumpcap records a TLS exchange on loopback whose HTTP
Host differs from the SNI (or follows no SNI at all), ``editcap --inject-secrets`` writes
the client's key log into the pcapng (a Decryption Secrets Block), and the audit reads
the Host inside TLS with tshark, observed at the address the client connected to."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from residency.endpoints import read_input
from tests.integration.test_capture import recording
from tests.probe.certs import Authority
from tests.probe.servers import answer, tls_server
from tests.support import require_binary

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


def test_the_host_inside_decrypted_tls_is_an_endpoint_at_the_observed_address(
    tmp_path: Path,
) -> None:
    dumpcap = require_binary("dumpcap")
    editcap = require_binary("editcap")
    require_binary("tshark")
    pair = Authority(tmp_path).leaf("leaf", ["front.tls.test"])
    keylog = tmp_path / "keys.log"
    captured, keyed = tmp_path / "in.pcapng", tmp_path / "out.pcapng"
    with tls_server(pair, answer("204 No Content", {})) as port:
        command = [dumpcap, "-i", "lo", "-w", str(captured), "-f", f"tcp port {port}"]
        with recording(command, "Capturing on"):
            _get(port, "front.tls.test", "back.tls.test", keylog)  # Host differs from SNI
            _get(port, None, "hidden.tls.test", keylog)  # no SNI at all
    subprocess.run(
        [editcap, "--inject-secrets", f"tls,{keylog}", str(captured), str(keyed)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    plain = read_input(captured)
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
