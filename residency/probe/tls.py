"""TLS probe: handshake with SNI = the endpoint's name, read the leaf certificate.

The certificate is read even when verification fails (a second, unverified handshake), so a
self-signed or expired certificate is still described; but it is marked unverified, and an
unverified certificate's organisation is only what the server claims about itself.
"""

from __future__ import annotations

import ssl
import time
import warnings

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from residency.model import CertInfo, ProbeResult
from residency.probe.multiplex import Steps, connect, drive, handshake
from residency.textsafe import replace_surrogates
from residency.timefmt import utc_iso

_EV = "2.23.140.1.1"
_OV = "2.23.140.1.2.2"
_DV = "2.23.140.1.2.1"
_IV = "2.23.140.1.2.3"
_JURISDICTION_C = ObjectIdentifier("1.3.6.1.4.1.311.60.2.1.3")

# Subject organisations that are CDNs: their certificate says who runs the edge, not the
# service behind it.
_CDN_ORGS = {
    "cloudflare": "cloudflare",
    "akamai": "akamai",
    "fastly": "fastly",
    "incapsula": "imperva",
    "imperva": "imperva",
}
_CDN_SANS = {".cloudfront.net": "cloudfront", ".azureedge.net": "azure", ".fastly.net": "fastly"}


def _now() -> str:
    return utc_iso()


def _first_values(name: x509.Name) -> dict[ObjectIdentifier, str]:
    """Each attribute type's first value, in one pass over the name."""
    values: dict[ObjectIdentifier, str] = {}
    for attribute in name:
        # the certificate's own text: an unpaired surrogate is replaced where it enters
        values.setdefault(attribute.oid, replace_surrogates(str(attribute.value)))
    return values


def _validation(cert: x509.Certificate) -> str:
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return "unknown"
    oids = {p.policy_identifier.dotted_string for p in policies}
    for oid, level in ((_EV, "ev"), (_OV, "ov"), (_IV, "iv"), (_DV, "dv")):
        if oid in oids:
            return level
    return "unknown"


def describe_certificate(der: bytes) -> CertInfo:
    """What a leaf certificate says about who runs the name. Raises ValueError if unparsable."""
    # A country that is not two letters is a finding for the controller (probe/controller.py
    # says so), not a warning for stderr, where cryptography would print it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Attribute's length", category=UserWarning)
        return _describe(der)


def _describe(der: bytes) -> CertInfo:
    cert = x509.load_der_x509_certificate(der)
    subject = _first_values(cert.subject)
    try:
        san_ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = tuple(san_ext.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = ()
    org = subject.get(NameOID.ORGANIZATION_NAME)
    cdn = None
    if org:
        cdn = next((v for k, v in _CDN_ORGS.items() if k in org.lower()), None)
    if cdn is None:
        cdn = next((v for k, v in _CDN_SANS.items() for s in sans if s.endswith(k)), None)
    validation = _validation(cert)
    return CertInfo(
        # CA/B Forum rules: a DV certificate validates no organisation, so none is taken.
        subject_o=None if validation == "dv" else org,
        subject_c=subject.get(NameOID.COUNTRY_NAME),
        subject_st=subject.get(NameOID.STATE_OR_PROVINCE_NAME),
        subject_l=subject.get(NameOID.LOCALITY_NAME),
        jurisdiction_c=subject.get(_JURISDICTION_C),
        serial_number=subject.get(NameOID.SERIAL_NUMBER),
        validation=validation,
        issuer=cert.issuer.rfc4514_string(),
        san=sans,
        not_before=utc_iso(cert.not_valid_before_utc),
        not_after=utc_iso(cert.not_valid_after_utc),
        cdn=cdn,
    )


def _verify_reason(err: ssl.SSLCertVerificationError) -> str:
    message = (err.verify_message or str(err)).lower()
    if "self-signed" in message or "self signed" in message:
        return "self-signed"
    if "expired" in message:
        return "expired"
    if "hostname" in message or "ip address mismatch" in message:
        return "name-mismatch"
    if "local issuer" in message:
        return "untrusted-issuer"
    return message or "verification failed"


def _left(deadline: float) -> float:
    """Seconds until ``deadline`` (at least a moment, so a passed one times out at once)."""
    return max(0.001, deadline - time.monotonic())


class TlsProbe:
    kind = "tls"

    def __init__(self, timeout: float, vantage: str = "local") -> None:
        self.timeout = timeout
        self.vantage = vantage
        self._verified = ssl.create_default_context()
        self._open = ssl.create_default_context()
        self._open.check_hostname = False
        self._open.verify_mode = ssl.CERT_NONE

    def _handshake(
        self, context: ssl.SSLContext, host: str, ip: str, port: int, deadline: float
    ) -> Steps[ssl.SSLSocket]:
        raw = yield from connect(ip, port, _left(deadline))
        return (yield from handshake(context, raw, host, _left(deadline)))

    def run(self, host: str, ip: str, port: int, until: float | None = None) -> ProbeResult:
        result, connection = self.session(host, ip, port, until)
        if connection is not None:
            connection.close()
        return result

    def session(
        self, host: str, ip: str, port: int, until: float | None = None
    ) -> tuple[ProbeResult, ssl.SSLSocket | None]:
        """The probe's result and, when a handshake completed, the open connection, so the
        HTTP edge probe can ask its question on it instead of paying a second handshake.
        The caller closes it."""
        return drive(self.session_steps(host, ip, port, until))

    def session_steps(
        self, host: str, ip: str, port: int, until: float | None = None
    ) -> Steps[tuple[ProbeResult, ssl.SSLSocket | None]]:
        """``session`` as steps (residency.probe.multiplex); the connection is non-blocking.
        One deadline covers the connect and both handshakes: ``timeout`` from now, or
        ``until`` (the probe stage's end, ``time.monotonic``) if sooner."""
        when = _now()
        deadline = time.monotonic() + self.timeout
        if until is not None:
            deadline = min(deadline, until)

        def fail(outcome: str, detail: str) -> tuple[ProbeResult, None]:
            return ProbeResult(self.kind, ip, port, outcome, detail, when, self.vantage), None

        verified, reason = True, ""
        try:
            try:
                connection = yield from self._handshake(self._verified, host, ip, port, deadline)
            except ssl.SSLCertVerificationError as err:
                verified, reason = False, _verify_reason(err)
                connection = yield from self._handshake(self._open, host, ip, port, deadline)
        except ConnectionRefusedError:
            return fail("refused", "connection refused")
        except TimeoutError:
            return fail("timeout", f"no answer in {self.timeout:g}s")
        except ssl.SSLError as err:
            return fail("tls-error", err.reason or str(err))
        except OSError as err:
            return fail("unreachable", err.strerror or str(err))
        der, version = connection.getpeercert(binary_form=True), connection.version()
        if not der:
            connection.close()
            return fail("tls-error", "no certificate presented")
        try:
            cert = describe_certificate(der)
        except ValueError as err:
            connection.close()
            return fail("cert-invalid", f"unparsable certificate: {err}")
        return ProbeResult(
            outcome="ok" if verified else "cert-invalid",
            detail="" if verified else f"certificate not verified: {reason}",
            tls_version=version,
            verified=verified,
            verify_error=reason,
            cert=cert,
            kind=self.kind,
            ip=ip,
            port=port,
            when=when,
            vantage=self.vantage,
        ), connection
