"""Opt-in active evidence about an endpoint, and who registered and runs it."""

from __future__ import annotations

from dataclasses import dataclass

from residency.model.facts import Confidence, OwnerLink, Place

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


def ownership_text(
    entity: str, country: str | None, parents: tuple[OwnerLink, ...], basis: str, short: str = ""
) -> str:
    """One line for an organisation and its owners, the one place reports and reasons
    take it from: ``Adition Technologies AG (DE) → Virtual Minds AG (DE) [entity-list
    webxray 2019-12-18; disconnect 2026-08-07]``; without parents, as before:
    ``Kitepay Payments India Private Limited (IN, OV certificate)``."""
    if not parents and not short:
        return f"{entity} ({country or '??'}, {basis})"
    steps = [f"{entity} ({country or '??'})"]
    steps.extend(f"{p.entity} ({p.country or '??'})" for p in parents)
    if short:
        steps.append("parent unknown" if short.startswith("parent unknown") else f"({short})")
    return " → ".join(steps) + f" [{basis}]"


@dataclass(frozen=True)
class Controller:
    """Who runs the service that receives the data (not who hosts it).

    ``parents`` is the ownership chain above ``entity``: the direct parent first, the
    ultimate parent last; ``parent_unknown`` says why the chain stops short when it does
    ("parent unknown, because no table names one"). ``hosted_by`` is set when the name is a
    customer's under a provider's shared domain (``*.cloudfront.net``): the provider hosts
    it, its customer controls it."""

    entity: str | None
    country: str | None
    basis: str  # "EV certificate", "OV certificate", "first-party table", "entity-list ..."
    confidence: Confidence
    why: str = ""
    parents: tuple[OwnerLink, ...] = ()
    parent_unknown: str = ""  # why the chain stops where it does; "" when it is complete
    sources: tuple[
        str, ...
    ] = ()  # every source naming the entity, e.g. "entity-list disconnect 2026-08-07"
    disagreements: tuple[str, ...] = ()  # what other sources say instead
    hosted_by: str | None = None  # provider of the shared customer domain the name is under
    dpf: str = ""  # EU-US DPF: "listed <version>", "not listed <version>", "" = no list

    def chain_text(self) -> str:
        """``Adition Technologies AG (DE) → Virtual Minds AG (DE) [entity-list ...]``."""
        if self.entity is None:
            return self.why or "controller unknown"
        return ownership_text(
            self.entity, self.country, self.parents, self.basis, self.parent_unknown
        )

    @property
    def ultimate(self) -> OwnerLink | None:
        """The top of the known chain (the entity itself when it has no known parent)."""
        if self.parents:
            return self.parents[-1]
        if self.entity is None:
            return None
        return OwnerLink(self.entity, self.country, self.basis)


@dataclass(frozen=True)
class SovereignCloud:
    """The endpoint runs on a named sovereign-cloud offering (data/sovereign_clouds.toml),
    recognised by a name in its CNAME chain or by its provider region."""

    offering: str  # id, e.g. "aws-eusc", "s3ns"
    name: str  # "AWS European Sovereign Cloud"
    entity: str  # the operating legal entity
    country: str | None
    basis: str  # how it was recognised: "name s3.eusc-de-east-1.amazonaws.eu", "region ..."
    parents: tuple[OwnerLink, ...] = ()  # direct parent first, ultimate parent last
    source: str = ""  # the provider's own document

    @property
    def ultimate(self) -> OwnerLink:
        return (
            self.parents[-1] if self.parents else OwnerLink(self.entity, self.country, self.source)
        )

    def chain_text(self) -> str:
        return ownership_text(self.entity, self.country, self.parents, self.basis)
