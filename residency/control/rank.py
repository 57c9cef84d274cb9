"""Who controls the service: ranked evidence, best basis first.

1. a verified EV certificate (organisation and jurisdiction validated by the CA);
2. a verified OV certificate (organisation validated);
3. the user's own ``[controllers.known]`` table (domain -> entity, country): the user
   knows their own suppliers better than any public list;
4. a customer's name under a provider's shared domain (``*.cloudfront.net``): the
   controller is the provider's unknown customer, and nothing below may name the
   provider instead (the tables and the registrant both would);
5. the domain-owner tables: the curated ``data/organisations.toml`` and the opt-in
   entity tables (webXray, Disconnect, DuckDuckGo), merged with provenance;
6. the domain registrant in the registry's RDAP (``--rdap``), when it names an
   organisation: last, because since ICANN's 2025 Registration Data Policy most are
   redacted, and a registrant is often a brand-protection agent or a reseller.

Only a *verified* certificate counts: an unverified one names whoever made it. A DV
certificate names no organisation, and a CDN's certificate names the CDN, not the service.
A redacted registrant (RFC 9537, or a privacy/proxy service) contributes nothing but
is noted as "registrant redacted" in ``why``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from residency.model import Confidence, Controller, ProbeResult, Registrant

ControllerTable = Mapping[str, tuple[str, str | None]]  # domain -> (entity, country)
#: What the tables say for a host: a controller, or None when they say nothing.
TableEvidence = Callable[[str], Controller | None]


def _from_table(host: str, table: ControllerTable) -> tuple[str, tuple[str, str | None]] | None:
    labels = host.lower().rstrip(".").split(".")
    for i in range(len(labels)):  # the most specific domain listed wins
        domain = ".".join(labels[i:])
        if domain in table:
            return domain, table[domain]
    return None


def registrant_basis(registrant: Registrant) -> str:
    """``registrant (RDAP rdap.example.net, 2026-12-02)``."""
    day = (registrant.fetched or "")[:10] or "date unknown"
    return f"registrant (RDAP {registrant.server or 'server unknown'}, {day})"


def controller_for(
    host: str,
    probes: Iterable[ProbeResult],
    table: ControllerTable | None = None,
    registrant: Registrant | None = None,
    tables: TableEvidence | None = None,
) -> Controller:
    """The best-ranked controller evidence for ``host``; ``tables`` is the entity and
    customer-domain evidence (residency.control.evidence), when loaded."""
    found = _ranked(host, probes, table, registrant, tables)
    if registrant is not None and registrant.status == "redacted" and found.basis != "none":
        return replace(found, why="; ".join(w for w in (found.why, _redacted(registrant)) if w))
    return found


def _redacted(registrant: Registrant) -> str:
    server = registrant.server or "server unknown"
    return f"registrant redacted ({registrant.domain}, RDAP {server})"


def certificate_country(*written: str | None) -> tuple[str | None, str]:
    """The first of the certificate's country fields (jurisdiction C, then subject C) that
    is an ISO 3166-1 alpha-2 code after NFKC, strip and upper case, and ``""``; or None and
    why not ("; country unknown, because ..."). ``"CN "`` is CN; ``"C\u200bN"``, ``"China"``
    or an escape sequence is no country: the CA checked the organisation, not this text."""
    import unicodedata

    from residency.datasets.parsers._common import iso_country

    given = [text for text in written if text is not None]
    for text in given:
        code = unicodedata.normalize("NFKC", text).strip().upper()
        if len(code) == 2 and code.isascii() and iso_country(code) is not None:
            return code, ""
    if not given:
        return None, "; country unknown, because the certificate names none"
    shown = ", ".join(ascii(text[:16]) for text in given)
    return None, f"; country unknown, because {shown} is not an ISO 3166-1 alpha-2 code"


def _from_certificate(probes: Iterable[ProbeResult], notes: list[str]) -> Controller | None:
    best: Controller | None = None
    for probe in probes:
        cert = probe.cert
        if probe.kind != "tls" or cert is None:
            continue
        if not probe.verified:
            notes.append(f"certificate not verified ({probe.verify_error}), not used")
            continue
        if cert.cdn is not None:
            notes.append(f"certificate names the CDN ({cert.cdn}), not the service")
            continue
        if cert.validation == "ev" and cert.subject_o:
            country, why = certificate_country(cert.jurisdiction_c, cert.subject_c)
            return Controller(
                cert.subject_o,
                country,
                "EV certificate",
                Confidence.HIGH,
                f"issuer {cert.issuer}{why}",
            )
        if cert.validation == "ov" and cert.subject_o and best is None:
            country, why = certificate_country(cert.subject_c)
            best = Controller(
                cert.subject_o,
                country,
                "OV certificate",
                Confidence.MEDIUM,
                f"issuer {cert.issuer}{why}",
            )
        elif cert.validation == "dv":
            notes.append("DV certificate: names no organisation")
    return best


def _ranked(
    host: str,
    probes: Iterable[ProbeResult],
    table: ControllerTable | None,
    registrant: Registrant | None,
    tables: TableEvidence | None,
) -> Controller:
    notes: list[str] = []
    certified = _from_certificate(probes, notes)
    if certified is not None:
        return certified
    listed = _from_table(host, table) if table else None
    if listed is not None:
        domain, (entity, country) = listed
        return Controller(
            entity, country, "first-party table", Confidence.MEDIUM, f"[controllers] {domain}"
        )
    if tables is not None:
        found = tables(host)
        if found is not None:
            if notes and found.entity is not None:
                found = replace(found, why="; ".join([*notes, found.why]))
            return found
    if registrant is not None and registrant.status == "known" and registrant.org:
        return Controller(
            registrant.org,
            registrant.country,
            registrant_basis(registrant),
            Confidence.MEDIUM,
            f"RDAP registrant of {registrant.domain}",
        )
    if registrant is not None and registrant.status == "unknown":
        notes.append(f"registrant unknown ({registrant.reason})")
    elif registrant is not None and registrant.status == "known":
        notes.append("registrant names no organisation")
    elif registrant is not None and registrant.status == "redacted":
        notes.append(_redacted(registrant))
    return Controller(None, None, "none", Confidence.NONE, "; ".join(notes) or "no evidence")
