"""Certificates made in the test: a CA and leaves carrying O, C and the CA/B policy OIDs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

EV = "2.23.140.1.1"
OV = "2.23.140.1.2.2"
DV = "2.23.140.1.2.1"
JURISDICTION_C = ObjectIdentifier("1.3.6.1.4.1.311.60.2.1.3")


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _key(kind: str = "ecdsa") -> Key:
    """An ECDSA P-256 key (what most large CDNs serve), or with "rsa" an RSA-2048 one."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _write(directory: Path, name: str, cert: x509.Certificate, key: Key) -> Pair:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pair(cert_path, key_path)


class Authority:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = _key()
        now = dt.datetime.now(dt.UTC)
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "residency test CA")])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = _write(directory, "ca", self.cert, self.key).cert

    def leaf(
        self,
        name: str,
        hosts: list[str],
        org: str | None = None,
        country: str | None = None,
        policy: str | None = None,
        jurisdiction: str | None = None,
        serial: str | None = None,
        expired: bool = False,
        self_signed: bool = False,
        key_type: str = "ecdsa",
    ) -> Pair:
        key = _key(key_type)
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]
        if org:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        if country:
            attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
        if jurisdiction:
            attrs.append(x509.NameAttribute(JURISDICTION_C, jurisdiction))
        if serial:
            attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
        subject = x509.Name(attrs)
        now = dt.datetime.now(dt.UTC)
        start, end = (
            (now - dt.timedelta(days=60), now - dt.timedelta(days=30))
            if expired
            else (now - dt.timedelta(days=1), now + dt.timedelta(days=10))
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False
            )
        )
        if policy:
            builder = builder.add_extension(
                x509.CertificatePolicies([x509.PolicyInformation(ObjectIdentifier(policy), None)]),
                critical=False,
            )
        cert = builder.sign(key if self_signed else self.key, hashes.SHA256())
        return _write(self.directory, name, cert, key)
