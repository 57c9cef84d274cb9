"""The demo's local TLS server: the Kitephone and Kitepay services, as the probes see them.

The demo zones point at real cloud addresses (so the location evidence is real), and the
demo must never contact those. The audit is therefore run with ``--probe-connect-to
::127.0.0.1:PORT``: every probe comes here instead, still presenting the endpoint's name as
SNI, and this server answers with the certificate of that name's (fictional) company, made
at run time under a demo CA that only the demo's audit trusts (``SSL_CERT_FILE``).

- ``*.kitephone.demo.residency.test``: an OV certificate (CA/B policy 2.23.140.1.2.2),
  O = Beijing Kitephone Mobile Software Co., Ltd., C = CN;
- ``*.kitepay.demo.residency.test``: OV, O = Kitepay Payments India Private Limited, C = IN;
- the control demo's third parties under ``mirror.residency.test``: DV, no organisation.

Its HTTP answers carry the CDN edge headers of the CDN names in the zones (CloudFront for
``images``, Cloudflare for ``checkout``), naming a Mumbai PoP: what a client in India would
typically be served; they are the demo's, not a measurement.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

OV_POLICY = "2.23.140.1.2.2"  # CA/Browser Forum: organisation validated
DV_POLICY = "2.23.140.1.2.1"  # CA/Browser Forum: domain validated (names no organisation)
DEMO_SUFFIX = "demo.residency.test"


@dataclass(frozen=True)
class Company:
    """A fictional company and the names its certificate covers."""

    domain: str  # e.g. "kitephone.demo.residency.test"
    organisation: str | None  # None: a DV certificate, which names no organisation
    country: str | None
    names: tuple[str, ...]  # subjectAltName DNS names (wildcards cover one label)


KITEPHONE = Company(
    f"kitephone.{DEMO_SUFFIX}",
    "Beijing Kitephone Mobile Software Co., Ltd.",
    "CN",
    (f"*.kitephone.{DEMO_SUFFIX}", f"*.account.kitephone.{DEMO_SUFFIX}"),
)
KITEPAY = Company(
    f"kitepay.{DEMO_SUFFIX}",
    "Kitepay Payments India Private Limited",
    "IN",
    (f"*.kitepay.{DEMO_SUFFIX}",),
)
#: The third parties of the control demo (data/demo/control-endpoints.txt), mirrored under
#: mirror.residency.test: DV certificates, as 94% of the web's are, so their controller
#: comes from the domain-owner evidence (data/organisations.toml), not the certificate.
MIRROR_SUFFIX = "mirror.residency.test"
THIRD_PARTIES = Company(
    MIRROR_SUFFIX,
    None,
    None,
    (
        f"*.adition.com.{MIRROR_SUFFIX}",
        f"*.google-analytics.com.{MIRROR_SUFFIX}",
        f"*.eusc-de-east-1.amazonaws.eu.{MIRROR_SUFFIX}",
    ),
)
COMPANIES = (KITEPHONE, KITEPAY, THIRD_PARTIES)

#: host (first label) -> the CDN edge headers its HTTP answer carries
EDGE_HEADERS = {
    "images": ("x-amz-cf-pop", "BOM78-P1"),  # CloudFront, Mumbai
    "checkout": ("cf-ray", "8e2f61c3a9b04d17-BOM"),  # Cloudflare, Mumbai
}


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_certificates(directory: Path) -> tuple[Path, dict[str, tuple[Path, Path]]]:
    """A demo CA (valid one day) and an OV leaf per company: (CA PEM, domain -> (cert, key))."""
    now = dt.datetime.now(dt.UTC)
    ca_key = _key()
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "residency demo CA (trusted by the demo only)")]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "demo-ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    leaves: dict[str, tuple[Path, Path]] = {}
    for company in COMPANIES:
        key = _key()
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, company.names[0])]
        if company.organisation and company.country:
            attributes += [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, company.organisation),
                x509.NameAttribute(NameOID.COUNTRY_NAME, company.country),
            ]
        subject = x509.Name(attributes)
        policy = OV_POLICY if company.organisation else DV_POLICY
        leaf = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in company.names]),
                critical=False,
            )
            .add_extension(
                x509.CertificatePolicies([x509.PolicyInformation(ObjectIdentifier(policy), None)]),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_path = directory / f"{company.domain}.pem"
        key_path = directory / f"{company.domain}.key"
        cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem(key))
        leaves[company.domain] = (cert_path, key_path)
    return ca_path, leaves


def company_of(name: str) -> Company:
    """The company whose certificate answers for ``name`` (Kitephone by default)."""
    host = name.lower().rstrip(".")
    for company in COMPANIES:
        if host == company.domain or host.endswith("." + company.domain):
            return company
    return KITEPHONE


def http_answer(request: bytes) -> bytes:
    """A header-only HTTP/1.1 answer; CDN names carry their edge headers."""
    host = ""
    for line in request.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "host":
            host = value.strip().lower()
    headers = [("server", "residency-demo"), ("content-length", "0"), ("connection", "close")]
    edge = EDGE_HEADERS.get(host.split(".", 1)[0])
    if edge is not None:
        headers.append(edge)
    lines = ["HTTP/1.1 200 OK", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode()


class DemoTlsServer:
    """Threads on 127.0.0.1: TLS with the certificate the SNI name asks for, then one
    header-only HTTP answer. ``start()`` makes the certificates in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = 0
        self.ca_file: Path | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def connect_to(self) -> str:
        """The ``--probe-connect-to`` value that sends every probe here."""
        return f"::127.0.0.1:{self.port}"

    def start(self) -> DemoTlsServer:
        self.ca_file, leaves = make_certificates(self.directory)
        for domain, (cert, key) in leaves.items():
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self._contexts[domain] = context
        main = self._contexts[KITEPHONE.domain]
        main.sni_callback = self._choose
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._loop, name="demo-tls", daemon=True)
        self._thread.start()
        return self

    def _choose(self, tls: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        if name:
            tls.context = self._contexts[company_of(name).domain]

    def _loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            with self._contexts[KITEPHONE.domain].wrap_socket(conn, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 16384:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return  # the TLS probe: handshake only
                    data += chunk
                tls.sendall(http_answer(data))
        except (OSError, ssl.SSLError):
            pass  # a probe that hung up after the handshake is the normal case
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._listener is not None:
            self._listener.close()
