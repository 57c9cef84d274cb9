"""Opt-in active evidence about an endpoint, and who registered and runs it."""

from __future__ import annotations

from dataclasses import dataclass

from residency.model.facts import Confidence, Place

# ------------------------------------------------------------------ active probes


@dataclass(frozen=True)
class CertInfo:
    """The leaf certificate a TLS probe read (verified or not)."""

    subject_o: str | None = None
    subject_c: str | None = None
    subject_st: str | None = None
    subject_l: str | None = None
    jurisdiction_c: str | None = None  # EV jurisdictionCountryName
    serial_number: str | None = None  # EV subject serialNumber (registration number)
    validation: str = "unknown"  # "ev", "ov", "dv" or "unknown" (from the CA/B policy OIDs)
    issuer: str = ""
    san: tuple[str, ...] = ()
    not_before: str | None = None
    not_after: str | None = None
    cdn: str | None = None  # provider id when the subject is a CDN, not the service


@dataclass(frozen=True)
class ProbeResult:
    """One opt-in active probe of one endpoint address: always an explicit outcome."""

    kind: str  # "tls" or "http"
    ip: str
    port: int
    outcome: str  # "ok", "refused", "timeout", "tls-error", "cert-invalid", "too-large", ...
    detail: str = ""
    when: str | None = None
    vantage: str = "local"  # where the probe ran from: another client may see another PoP
    tls_version: str | None = None
    verified: bool | None = None
    verify_error: str = ""  # "self-signed", "expired", ...
    cert: CertInfo | None = None
    status: int | None = None  # HTTP status
    headers: tuple[tuple[str, str], ...] = ()  # the edge headers kept (CDN ones only)
    edge_cdn: str | None = None  # "cloudflare", "cloudfront", "fastly", "akamai", "azure"
    edge_pop: str | None = None  # PoP code, e.g. "FRA"
    edge_place: Place | None = None
    edge_basis: str = ""  # "vendor table data/pops.toml" or "IATA (airportsdata)"
    rtt_ms: float | None = None  # --probe rtt: the minimum TCP connect time measured
    connected_to: str | None = None  # "ADDR:PORT" when --probe-connect-to redirected it


@dataclass(frozen=True)
class Registrant:
    """Who registered the endpoint's domain, from its registry's RDAP domain object.

    ``status`` is "known" (an organisation and/or country is published), "redacted" (the
    registry withholds the registrant, RFC 9537 or a "REDACTED FOR PRIVACY" value: a fact,
    not a failure) or "unknown" (no lookup possible or it failed; ``reason`` says why).
    """

    domain: str | None  # the registrable domain looked up, None when there is none
    status: str  # "known", "redacted" or "unknown"
    reason: str = ""  # for "unknown": why; for "redacted": what was withheld
    org: str | None = None
    country: str | None = None  # ISO alpha-2
    server: str | None = None  # host of the RDAP server that answered
    fetched: str | None = None  # UTC date-time of the answer


@dataclass(frozen=True)
class Controller:
    """Who runs the service that receives the data (not who hosts it)."""

    entity: str | None
    country: str | None
    basis: str  # "ev-certificate", "ov-certificate", "first-party table", "none"
    confidence: Confidence
    why: str = ""
