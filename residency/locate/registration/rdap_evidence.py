"""Registration as evidence and as text: kept beside the location, never merged into it."""

from __future__ import annotations

from residency.model import Evidence, EvidenceKind, Location, Registration

# ------------------------------------------------------------------- presentation


def registration_evidence(registration: Registration) -> Evidence | None:
    """The registration as an ``Evidence`` of kind REGISTRATION, for the evidence list.

    It deliberately carries no ``place``: the registrant's country is where the holder
    is registered, not where the address is, so it must not vote on the location.
    """
    if registration.status != "known":
        return None
    detail = [f"registered to {registration.org}"] if registration.org else []
    if registration.country:
        detail.append(f"registrant country {registration.country}")
    if registration.rir:
        detail.append(f"via {registration.rir}")
    return Evidence(
        source="rdap",
        kind=EvidenceKind.REGISTRATION,
        version=registration.fetched or "",
        prefix=(registration.cidr or "").split(",")[0].strip() or None,
        org=registration.org,
        note="; ".join(detail) or (registration.network_name or ""),
    )


def describe(registration: Registration | None, location: Location | None) -> str:
    """Registration and location side by side, never merged:
    ``"registered to Xiaomi Inc., CN; hosted in SG"``."""
    if registration is None:
        registered = "registration not looked up"
    elif registration.status != "known":
        registered = f"registration unknown ({registration.reason or 'no reason given'})"
    elif registration.org or registration.country:
        who = registration.org or registration.network_name or "an unnamed holder"
        registered = f"registered to {who}" + (
            f", {registration.country}" if registration.country else ""
        )
    else:
        registered = f"registered as {registration.network_name or registration.handle}"
    if location is None:
        hosted = "location not determined"
    elif location.place is None:
        hosted = f"hosted: unknown ({location.why or location.basis})"
    else:
        hosted = f"hosted in {location.place.country}"
    return f"{registered}; {hosted}"
