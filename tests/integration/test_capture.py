"""Real captures: tcpdump (pcap) and dumpcap (pcapng) record loopback traffic while the
test talks to a real DNS server (Knot), ``openssl s_server`` and ``http.server``; the
capture reader must recover exactly the names, addresses and SNIs that were used."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import pytest

from residency.demo.knot import free_port
from residency.endpoints import ReadOptions, read_input
from residency.endpoints.interface import Targets
from tests.integration.dnsserver import KnotServer, Zone, zone
from tests.support import accept_until, require_binary, unavailable

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TLS_ADDR = "127.0.0.2"
HTTP_ADDR = "127.0.0.3"
BARE_ADDR = "127.0.0.4"
PLAIN_ADDR = "127.0.0.5"

ZONE_RECORDS = f"""
tls       A     {TLS_ADDR}
web       A     {HTTP_ADDR}
alias     CNAME web
plain     A     {PLAIN_ADDR}
v6        AAAA  ::1
"""


@dataclass
class Servers:
    dns: KnotServer
    tls_port: int
    http_port: int
    bare_port: int
    plain_port: int

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.dns.port, self.tls_port, self.http_port, self.bare_port, self.plain_port)


def _wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on {host}:{port}")


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _sink(listener: socket.socket, stop: threading.Event) -> None:
    listener.settimeout(0.2)
    accept_until(listener, stop, _take_and_close)


def _take_and_close(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(1)
        with contextlib.suppress(OSError):
            conn.recv(4096)


@contextlib.contextmanager
def running_servers(workdir: Path, dns_server: KnotServer) -> Iterator[Servers]:
    """openssl s_server, an HTTP server and two plain TCP listeners beside ``dns_server``."""
    openssl = require_binary("openssl")
    key, cert = workdir / "key.pem", workdir / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=tls.capture.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    tls_port = free_port(TLS_ADDR)
    s_server = subprocess.Popen(
        [openssl, "s_server", "-accept", f"{TLS_ADDR}:{tls_port}", "-cert", str(cert),
         "-key", str(key), "-www", "-quiet"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    httpd = http.server.ThreadingHTTPServer((HTTP_ADDR, 0), _Quiet)
    http_thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    http_thread.start()
    stop = threading.Event()
    sinks = []
    for addr in (BARE_ADDR, PLAIN_ADDR):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((addr, 0))
        listener.listen(8)
        thread = threading.Thread(target=_sink, args=(listener, stop), daemon=True)
        thread.start()
        sinks.append((listener, thread))
    try:
        _wait_port(TLS_ADDR, tls_port)
        yield Servers(
            dns=dns_server,
            tls_port=tls_port,
            http_port=httpd.server_address[1],
            bare_port=sinks[0][0].getsockname()[1],
            plain_port=sinks[1][0].getsockname()[1],
        )
    finally:
        stop.set()
        for listener, thread in sinks:
            listener.close()
            thread.join(timeout=5)
        httpd.shutdown()
        httpd.server_close()
        s_server.terminate()
        try:
            s_server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            s_server.kill()
            s_server.wait()


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
    make_module_dns: Callable[[list[Zone]], KnotServer],
) -> Iterator[Servers]:
    dns_server = make_module_dns([zone("capture.test", ZONE_RECORDS)])
    with running_servers(tmp_path_factory.mktemp("tls"), dns_server) as started:
        yield started


@pytest.fixture(scope="module")
def make_module_dns(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[list[Zone]], KnotServer]]:
    from tests.integration.dnsserver import start_server

    started: list[KnotServer] = []

    def make(zones: list[Zone]) -> KnotServer:
        server = start_server(tmp_path_factory.mktemp("knot"), zones)
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@contextlib.contextmanager
def recording(
    command: list[str], ready: str, canary: Callable[[], bool] | None = None
) -> Iterator[None]:
    """Run a capture tool until the block ends; wait for its 'ready' line first.

    With ``canary`` (send one marker packet; say whether the capture holds one yet), packets
    are known to flow before the block starts, instead of trusting a fixed pause: under load
    the tool says "listening" well before the kernel hands it packets."""
    proc = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = proc.stderr.readline().decode(errors="replace")
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if ready in line:
            break
    else:
        proc.kill()
        proc.wait()
        unavailable(f"{command[0]} did not start: {''.join(seen)[-300:]}")
    if proc.poll() is not None:
        unavailable(f"{command[0]} could not capture on lo: {''.join(seen)[-300:]}")
    if canary is None:
        time.sleep(0.5)  # the tool says "listening" a moment before packets really flow
    else:
        flowing = time.monotonic() + 15
        while not canary():
            if time.monotonic() > flowing or proc.poll() is not None:
                proc.kill()
                proc.wait()
                unavailable(f"{command[0]} captured nothing on lo within 15 s")
            time.sleep(0.1)
    try:
        yield
    finally:
        time.sleep(0.5)
        proc.send_signal(2)  # SIGINT: flush and close the file
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def exercise(servers: Servers) -> None:
    """The traffic an 'app' makes: DNS over UDP and TCP, TLS with SNI, HTTP, bare TCP."""
    host, port = servers.dns.host, servers.dns.port
    for name, rtype in (
        ("tls.capture.test", "A"),
        ("alias.capture.test", "A"),
        ("web.capture.test", "A"),
        ("v6.capture.test", "AAAA"),
    ):
        reply = dns.query.udp(dns.message.make_query(name, rtype), host, port=port, timeout=3)
        assert reply.answer, name
    reply = dns.query.tcp(dns.message.make_query("plain.capture.test", "A"), host, port=port)
    assert reply.answer

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for sni in ("tls.capture.test", "other.example"):
        with (
            socket.create_connection((TLS_ADDR, servers.tls_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=sni) as tls,
        ):
            tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
            tls.recv(100)

    conn = http.client.HTTPConnection(HTTP_ADDR, servers.http_port, timeout=5)
    conn.request("GET", "/index.html", headers={"Host": f"web.capture.test:{servers.http_port}"})
    assert conn.getresponse().read() == b"ok\n"
    conn.close()

    with socket.create_connection((BARE_ADDR, servers.bare_port), timeout=5) as bare:
        bare.sendall(b"hello, no name here\n")
    with socket.create_connection((PLAIN_ADDR, servers.plain_port), timeout=5) as plain:
        plain.sendall(b"\x00\x01binary protocol\n")
    time.sleep(0.2)


def _summary(targets: Targets) -> dict[str, set[tuple[str, str]]]:
    """host -> {(address, how)} with the counts and ports stripped from the context."""
    out: dict[str, set[tuple[str, str]]] = {}
    for endpoint in targets.endpoints:
        seen = out.setdefault(endpoint.host, set())
        for observed in endpoint.observed:
            how = observed.context.removeprefix("pcap ").split(":", 1)[0]
            seen.add((observed.ip, how))
    return out


def check(targets: Targets, servers: Servers) -> None:
    assert targets.problems == ()
    found = _summary(targets)
    assert found == {
        "tls.capture.test": {(TLS_ADDR, "DNS answer A"), (TLS_ADDR, "TLS SNI")},
        "other.example": {(TLS_ADDR, "TLS SNI")},
        "alias.capture.test": {(HTTP_ADDR, "DNS answer A via web.capture.test")},
        # The HTTP connection was made by address; its Host header names it.
        "web.capture.test": {(HTTP_ADDR, "DNS answer A"), (HTTP_ADDR, "HTTP Host")},
        "v6.capture.test": {("::1", "DNS answer AAAA")},
        "plain.capture.test": {
            (PLAIN_ADDR, "DNS answer A"),
            (PLAIN_ADDR, "connection named by DNS answer"),
        },
        BARE_ADDR: {(BARE_ADDR, "connection with no name (no DNS answer, SNI or Host)")},
        "127.0.0.1": {("127.0.0.1", "DNS queries sent to it")},
    }
    by_host = {e.host: e for e in targets.endpoints}
    assert by_host[BARE_ADDR].is_ip and by_host["127.0.0.1"].is_ip
    assert not by_host["tls.capture.test"].is_ip
    sni = [o for o in by_host["tls.capture.test"].observed if "TLS SNI" in o.context]
    assert sni[0].context.endswith(f"once (tcp/{servers.tls_port})")
    assert sni[0].when is not None and sni[0].when.startswith("20")
    dns_server = by_host["127.0.0.1"].observed[0].context
    assert "5 times" in dns_server or "4 times" in dns_server  # 4 UDP + the TCP connection


def _filter(servers: Servers) -> str:
    return " or ".join(f"port {port}" for port in servers.ports)


@pytest.mark.parametrize(
    ("interface", "link", "linktype"),
    [("lo", None, 1), ("any", "LINUX_SLL", 113), ("any", "LINUX_SLL2", 276)],
    ids=["ethernet", "linux-cooked", "linux-cooked-v2"],
)
def test_tcpdump_pcap_recovers_names_addresses_and_sni(
    servers: Servers, tmp_path: Path, interface: str, link: str | None, linktype: int
) -> None:
    tcpdump = require_binary("tcpdump")
    capture = tmp_path / "loopback.pcap"
    command = [tcpdump, "-i", interface, "-U", "-n", "-w", str(capture)]
    if link:
        command += ["-y", link]
    with recording([*command, _filter(servers)], "listening on"):
        exercise(servers)
    assert int.from_bytes(capture.read_bytes()[20:24], "little") == linktype
    targets = read_input(capture, options=ReadOptions(dns_ports=(servers.dns.port,)))
    check(targets, servers)


def test_dumpcap_pcapng_recovers_the_same(servers: Servers, tmp_path: Path) -> None:
    dumpcap = require_binary("dumpcap")
    capture = tmp_path / "loopback.pcapng"
    command = [dumpcap, "-i", "lo", "-w", str(capture), "-f", _filter(servers)]
    with recording(command, "Capturing on"):
        exercise(servers)
    assert capture.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    targets = read_input(capture, options=ReadOptions(dns_ports=(servers.dns.port,)))
    check(targets, servers)


def test_cut_short_capture_keeps_the_readable_part(servers: Servers, tmp_path: Path) -> None:
    tcpdump = require_binary("tcpdump")
    capture = tmp_path / "whole.pcap"
    command = [
        tcpdump,
        "-i",
        "lo",
        "-U",
        "--immediate-mode",
        "-n",
        "-w",
        str(capture),
        _filter(servers),
    ]
    with recording(command, "listening on"):
        exercise(servers)
    data = capture.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3 + 7])
    targets = read_input(cut, options=ReadOptions(dns_ports=(servers.dns.port,)))
    assert len(targets.problems) == 1
    problem = str(targets.problems[0])
    assert "truncated at byte" in problem and "results are from the" in problem
    # The DNS answers came first in the traffic, so they survive the cut.
    hosts = {e.host for e in targets.endpoints}
    assert {"tls.capture.test", "alias.capture.test", "v6.capture.test"} <= hosts


QUIC_ADDR = "127.0.0.6"
CANARY_ADDR = "127.0.0.7"  # a nameless connection of its own, left out of the checks


@pytest.mark.parametrize(
    ("alpn", "datagrams"),
    [(["h3"], 1), (["h3"] + [f"x{i:02d}" + "y" * 120 for i in range(20)], 3)],
    ids=["one-datagram", "client-hello-over-three-datagrams"],
)
def test_quic_initial_sni_from_a_real_quic_client(
    tmp_path: Path, alpn: list[str], datagrams: int
) -> None:
    """aioquic (a real QUIC v1 stack) sends its Initial(s); the reader removes the
    Initial protection and reads the SNI from the ClientHello inside, reassembling
    the CRYPTO stream when the ClientHello needs several packets."""
    tcpdump = require_binary("tcpdump")
    quic_connection = pytest.importorskip("aioquic.quic.connection")
    quic_configuration = pytest.importorskip("aioquic.quic.configuration")
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind((QUIC_ADDR, 0))
    port = receiver.getsockname()[1]
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    marker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    marker.bind((CANARY_ADDR, 0))
    marker_port = marker.getsockname()[1]
    capture = tmp_path / "quic.pcap"

    def canary() -> bool:
        marker.sendto(b"capture canary", (CANARY_ADDR, marker_port))
        return capture.exists() and capture.stat().st_size > 24  # more than the pcap header

    try:
        command = [tcpdump, "-i", "lo", "-U", "--immediate-mode", "-n", "-w", str(capture)]
        command.append(f"udp port {port} or udp port {marker_port}")
        with recording(command, "listening on", canary):
            config = quic_configuration.QuicConfiguration(
                is_client=True, server_name="quic.capture.test", alpn_protocols=alpn
            )
            connection = quic_connection.QuicConnection(configuration=config)
            now = time.time()
            connection.connect((QUIC_ADDR, port), now=now)
            sent = 0
            for datagram, address in connection.datagrams_to_send(now=now):
                sender.sendto(datagram, address)
                sent += 1
            assert sent == datagrams
            receiver.settimeout(3)
            receiver.recv(65535)
    finally:
        sender.close()
        receiver.close()
        marker.close()
    targets = read_input(capture)
    assert targets.problems == ()
    found = _summary(targets)
    assert found.pop(CANARY_ADDR) == {
        (CANARY_ADDR, "connection with no name (no DNS answer, SNI or Host)")
    }
    assert found == {"quic.capture.test": {(QUIC_ADDR, "QUIC SNI")}}
    quic = [endpoint for endpoint in targets.endpoints if endpoint.host == "quic.capture.test"]
    observed = quic[0].observed[0]
    assert observed.context.endswith(f"once (udp/{port})")
