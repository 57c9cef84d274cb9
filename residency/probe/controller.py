"""Who controls the service: ranked evidence, best basis first.

1. an EV certificate (organisation and jurisdiction validated by the CA);
2. an OV certificate (organisation validated);
3. a first-party table the user gives (domain -> entity, country).

Only a *verified* certificate counts: an unverified one names whoever made it. A DV
certificate names no organisation, and a CDN's certificate names the CDN, not the service.
The domain registrant (RDAP) is not used yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from residency.model import Confidence, Controller, ProbeResult

ControllerTable = Mapping[str, tuple[str, str | None]]  # domain -> (entity, country)


def _from_table(host: str, table: ControllerTable) -> tuple[str, tuple[str, str | None]] | None:
    labels = host.lower().rstrip(".").split(".")
    for i in range(len(labels)):  # the most specific domain listed wins
        domain = ".".join(labels[i:])
        if domain in table:
            return domain, table[domain]
    return None


def controller_for(
    host: str, probes: Iterable[ProbeResult], table: ControllerTable | None = None
) -> Controller:
    notes: list[str] = []
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
            return Controller(
                cert.subject_o,
                cert.jurisdiction_c or cert.subject_c,
                "EV certificate",
                Confidence.HIGH,
                f"issuer {cert.issuer}",
            )
        if cert.validation == "ov" and cert.subject_o and best is None:
            best = Controller(
                cert.subject_o,
                cert.subject_c,
                "OV certificate",
                Confidence.MEDIUM,
                f"issuer {cert.issuer}",
            )
        elif cert.validation == "dv":
            notes.append("DV certificate: names no organisation")
    if best is not None:
        return best
    listed = _from_table(host, table or {})
    if listed is not None:
        domain, (entity, country) = listed
        return Controller(
            entity, country, "first-party table", Confidence.MEDIUM, f"[controllers] {domain}"
        )
    return Controller(None, None, "none", Confidence.NONE, "; ".join(notes) or "no evidence")
