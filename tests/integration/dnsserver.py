"""DNS server harness for tests: a real Knot DNS on 127.0.0.1 serving zones you give it.

Other areas reuse it through the fixtures in ``tests/integration/conftest.py``::

    def test_something(dns_server):            # session server with the resolve test zones
        ns = dns_server.address                # "127.0.0.1:PORT", as --nameserver takes it
        dns_server.set_zone(zone("mine.test", "www A 192.0.2.1"))   # add a zone, reloads

    def test_other(make_dns_server):           # a private server, stopped after the test
        server = make_dns_server([zone("x.test", "a CNAME b\\nb A 192.0.2.2")])

The launcher itself lives in ``residency.demo.knot`` (the demo uses it too).
"""

from __future__ import annotations

import datetime
import glob
import ipaddress
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query

from residency.demo.knot import KnotServer, Zone, find_binary, free_port, zones_from_dir
from tests.support import FIXTURES, require_binary, unavailable

__all__ = [
    "TEST_ZONES",
    "BindTlsServer",
    "KnotServer",
    "Zone",
    "ecs_module_available",
    "require_knot",
    "start_server",
    "test_zones",
    "zone",
]

#: The zones the resolve tests use (one name per outcome; see the comments in each file).
TEST_ZONES = FIXTURES / "resolve" / "zones"

SOA_TEMPLATE = """$TTL {ttl}
@        3600 SOA  ns hostmaster {serial} 3600 600 86400 60
@        3600 NS   ns
ns       3600 A    127.0.0.1
"""


def zone(
    origin: str, records: str, *, serial: int = 1, ttl: int = 300, ecs: str | None = None
) -> Zone:
    """A zone from a few record lines; SOA and NS boilerplate are added for you.

    Bump ``serial`` when replacing a zone on a running server (``set_zone`` waits for it).
    """
    text = SOA_TEMPLATE.format(ttl=ttl, serial=serial) + records.strip() + "\n"
    return Zone(origin=origin, text=text, ecs=ecs)


def ecs_module_available() -> bool:
    """Whether Knot's geoip module (Debian package knot-module-geoip) is installed."""
    return bool(glob.glob("/usr/lib/*/knot/modules-*/geoip.so"))


def require_knot() -> str:
    """knotd's path; skips on a laptop without it, fails under CI=true."""
    require_binary("knotc")
    return require_binary("knotd")


def test_zones(include_ecs: bool | None = None) -> list[Zone]:
    """The shipped test zones; the ECS zone only when Knot's geoip module is present."""
    if include_ecs is None:
        include_ecs = ecs_module_available()
    return [z for z in zones_from_dir(TEST_ZONES) if include_ecs or z.ecs is None]


test_zones.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def start_server(workdir: Path, zones: list[Zone] | tuple[Zone, ...]) -> KnotServer:
    """Start Knot on a free port with ``zones``; the caller must ``stop()`` it."""
    binary = require_knot()
    if any(z.ecs is not None for z in zones) and not ecs_module_available():
        unavailable("Knot's geoip module (knot-module-geoip) is not installed")
    return KnotServer(workdir, zones, binary=binary).start()


def knot_installed() -> bool:
    return find_binary("knotd") is not None


# ------------------------------------------------------------------ DoT / DoH (BIND)


class BindTlsServer:
    """BIND 9.18 serving ``zones`` over UDP/TCP, DNS over TLS and DNS over HTTPS.

    Knot 3.2 has no DoT/DoH listener; BIND 9.18 has both. A self-signed certificate for
    127.0.0.1 is made for each run; ``ca_file`` is what a client must trust.
    """

    def __init__(self, workdir: Path, zones: list[Zone] | tuple[Zone, ...]) -> None:
        self.workdir = workdir
        self.zones = tuple(zones)
        self.host = "127.0.0.1"
        self.port = self.dot_port = self.doh_port = 0
        self.ca_file = str(workdir / "cert.pem")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def dot(self) -> str:
        return f"{self.host}:{self.dot_port}"

    @property
    def doh(self) -> str:
        return f"https://{self.host}:{self.doh_port}/dns-query"

    def start(self, binary: str) -> BindTlsServer:
        wd = self.workdir
        wd.mkdir(parents=True, exist_ok=True)
        _self_signed(wd / "key.pem", wd / "cert.pem")
        self.port, self.dot_port, self.doh_port = free_port(), free_port(), free_port()
        zone_lines = []
        for z in self.zones:
            (wd / f"{z.file_stem}.zone").write_text(z.text, encoding="utf-8")
            zone_lines.append(f'zone "{z.domain}" {{ type primary; file "{z.file_stem}.zone"; }};')
        (wd / "named.conf").write_text(
            f"""
tls local-tls {{ key-file "{wd}/key.pem"; cert-file "{wd}/cert.pem"; }};
http local-http {{ endpoints {{ "/dns-query"; }}; }};
options {{
  directory "{wd}";
  pid-file "{wd}/named.pid";
  session-keyfile "{wd}/session.key";
  managed-keys-directory "{wd}";
  listen-on port {self.port} {{ 127.0.0.1; }};
  listen-on port {self.dot_port} tls local-tls {{ 127.0.0.1; }};
  listen-on port {self.doh_port} tls local-tls http local-http {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
}};
controls {{ }};
{chr(10).join(zone_lines)}
""",
            encoding="utf-8",
        )
        log = (wd / "named.log").open("wb")
        self._process = subprocess.Popen(
            [binary, "-g", "-c", str(wd / "named.conf"), "-u", "root"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                query = dns.message.make_query(self.zones[0].domain, "SOA")
                dns.query.udp(query, self.host, port=self.port, timeout=0.3)
                return self
            except (OSError, dns.exception.DNSException):
                time.sleep(0.1)
        tail = (wd / "named.log").read_text(errors="replace").splitlines()[-5:]
        self.stop()
        raise RuntimeError("named did not start: " + " | ".join(tail))

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _self_signed(key_path: Path, cert_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "residency test resolver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
