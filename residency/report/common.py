"""Helpers every format shares: labels, warnings, counts and the one-line summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from residency.model import (
    AddressVerdict,
    AuditResult,
    EndpointResult,
    IpFacts,
    Outcome,
    Reason,
    Verdict,
)

DBIP_ATTRIBUTION = "IP Geolocation by DB-IP"
DBIP_URL = "https://db-ip.com"
NOT_JUDGED = "NOT JUDGED"

#: Reason codes that are notes without deciding a verdict (the policy layer prefixes them);
#: what a policy chose to warn about is the WARN verdict instead.
WARNING_PREFIX = "warn-"


#: Reason codes that record a check that passed (evidence, not a problem).
PASSING_CODES = frozenset(
    {"country-allowed", "provider-allowed", "operator-jurisdiction-allowed", "no-constraint"}
)


def is_passing(reason: Reason) -> bool:
    return reason.code in PASSING_CODES


def is_warning(reason: Reason) -> bool:
    return reason.code.startswith(WARNING_PREFIX) or reason.code == "waiver-expired"


def label(verdict: Verdict | None) -> str:
    return verdict.name if verdict is not None else NOT_JUDGED


def endpoint_verdict(result: EndpointResult) -> Verdict | None:
    return result.verdict.verdict if result.verdict else None


def address_verdicts(result: EndpointResult) -> dict[str, AddressVerdict]:
    return {a.ip: a for a in result.verdict.addresses} if result.verdict else {}


def location_text(facts: IpFacts) -> str:
    place = facts.location.place
    if place is None:
        reason = facts.location.why or ("anycast" if facts.anycast else "unknown")
        return f"unknown ({reason})"
    parts = [place.country]
    if place.subdivision:
        parts.append(place.subdivision)
    if place.city:
        parts.append(place.city)
    return " / ".join(parts)


def provider_text(facts: IpFacts) -> str:
    if not facts.provider:
        return facts.as_org or (f"AS{facts.asn}" if facts.asn else "-")
    text = facts.provider + (f":{facts.region}" if facts.region else "")
    if facts.cdn:
        text += " (CDN)"
    elif facts.anycast:
        text += " (anycast)"
    return text


def operator_text(facts: IpFacts) -> str:
    operator = facts.operator
    if operator is None or (operator.entity is None and operator.jurisdiction is None):
        registration = facts.registration
        if registration is not None and registration.status == "known" and registration.org:
            return f"registered to {registration.org}, {registration.country or '??'}"
        return "unknown"
    who = operator.entity or operator.provider or "?"
    return f"{who} ({operator.jurisdiction or '??'})"


def outcome_text(result: EndpointResult) -> str:
    """How the endpoint resolved, e.g. "resolved" or "nxdomain, timeout"."""
    outcomes = sorted({r.outcome.value for r in result.resolutions})
    return ", ".join(outcomes) or "not resolved"


def chain_text(result: EndpointResult) -> str:
    """The CNAME chain of the first resolution that has one: a -> b -> c."""
    for resolution in result.resolutions:
        targets = resolution.cname_targets
        if targets:
            return " -> ".join((resolution.name, *targets))
    return ""


def failed_resolution(result: EndpointResult) -> bool:
    return not result.facts and all(
        r.outcome not in (Outcome.RESOLVED, Outcome.LITERAL) for r in result.resolutions
    )


_CONTROLLER_BREACHES = frozenset({"controller-denied", "controller-not-allowed"})


def deciding_sides(result: EndpointResult) -> list[str]:
    """Which sides decided a non-passing verdict: "location", "operator", "controller"."""
    verdict = result.verdict
    if verdict is None or verdict.verdict is Verdict.PASS:
        return []
    sides: set[str] = set()
    for address in verdict.addresses:
        if address.verdict == verdict.verdict:
            sides.update(
                ("location", "operator") if address.aspect == "both" else (address.aspect,)
            )
    for reason in verdict.reasons:
        deciding = not (is_passing(reason) or is_warning(reason))
        # an unknown controller decides only as the policy handles it (fail/indeterminate)
        unknown = reason.code == "controller-unknown" and (
            verdict.verdict in (Verdict.INDETERMINATE, Verdict.WARN)
            or "unknown_controller = fail" in reason.message
        )
        if deciding and (reason.code in _CONTROLLER_BREACHES or unknown):
            sides.add("controller")
    return [s for s in ("location", "operator", "controller") if s in sides]


def main_reasons(result: EndpointResult) -> list[Reason]:
    """The reasons that explain the endpoint's verdict, worst address first, no duplicates."""
    if result.verdict is None:
        return []
    verdict = result.verdict
    out: list[Reason] = list(verdict.reasons)
    for address in sorted(verdict.addresses, key=lambda a: -a.verdict.severity):
        if address.verdict != verdict.verdict:
            continue
        for reason in address.reasons:
            if is_passing(reason) and verdict.verdict is not Verdict.PASS:
                continue
            out.append(reason)
    seen: set[tuple[str, str]] = set()
    unique = []
    for reason in out:
        key = (reason.code, reason.message)
        if key not in seen:
            seen.add(key)
            unique.append(reason)
    return unique


@dataclass(frozen=True)
class Counts:
    endpoints: int
    addresses: int
    by_verdict: dict[str, int]  # endpoint verdict label -> count
    countries: dict[str, int]  # country -> address count ("??" unknown)


def counts(result: AuditResult) -> Counts:
    by_verdict: Counter[str] = Counter(label(endpoint_verdict(e)) for e in result.endpoints)
    countries: Counter[str] = Counter()
    addresses = 0
    for endpoint in result.endpoints:
        for facts in endpoint.facts:
            addresses += 1
            countries[facts.location.country or "??"] += 1
    ordered = {
        name: by_verdict[name]
        for name in [*(v.name for v in Verdict.by_severity()), NOT_JUDGED]
        if by_verdict[name]
    }
    return Counts(len(result.endpoints), addresses, ordered, dict(countries.most_common()))


def country_verdicts(result: AuditResult) -> dict[str, Counter[str]]:
    """Country -> address verdict label -> count, for charts."""
    out: dict[str, Counter[str]] = {}
    for endpoint in result.endpoints:
        verdicts = address_verdicts(endpoint)
        for facts in endpoint.facts:
            country = facts.location.country or "??"
            judged = verdicts.get(facts.ip)
            out.setdefault(country, Counter())[label(judged.verdict if judged else None)] += 1
    return dict(sorted(out.items(), key=lambda item: (-sum(item[1].values()), item[0])))


def summary_line(result: AuditResult) -> str:
    """One line for stderr: how many, what verdicts, and the overall verdict."""
    tally = counts(result)
    head = f"{tally.endpoints} endpoint{'s' if tally.endpoints != 1 else ''}"
    head += f", {tally.addresses} address{'es' if tally.addresses != 1 else ''}"
    placed = {c: n for c, n in tally.countries.items() if c != "??"}
    countries = ", ".join(f"{c} {n}" for c, n in list(placed.items())[:6])
    if len(placed) > 6:
        countries += ", ..."
    where = f" in {len(placed)} countr{'ies' if len(placed) != 1 else 'y'}"
    where += f" ({countries})" if countries else ""
    if "??" in tally.countries:
        where += f", {tally.countries['??']} without a location"
    problems = f"; {len(result.problems)} input problem(s)" if result.problems else ""
    if result.policy is None or result.verdict is None:
        return f"{head}{where}; no policy applied{problems}"
    spread = ", ".join(f"{n} {name}" for name, n in tally.by_verdict.items())
    policy = f"{result.policy.name} {result.policy.version}"
    return f"{result.verdict.name}: {head}{where}; {spread} (policy {policy}){problems}"


def uses_dbip(result: AuditResult) -> bool:
    """Whether any DB-IP data went into the audit (its licence requires attribution)."""
    for version in result.data_versions:
        text = " ".join(
            filter(None, (version.dataset, version.origin, version.attribution, version.licence))
        ).lower()
        if "dbip" in text or "db-ip" in text:
            return True
    return False


def share_alike_attributions(result: AuditResult) -> tuple[str, ...]:
    """Attribution lines of data under share-alike terms (GeoLite2, IPinfo Lite,
    IP2Location LITE) that went into the audit; their licences ask for the line in
    every output, as DB-IP's does."""
    found = {
        v.attribution
        for v in result.data_versions
        if v.attribution and v.licence and ("CC BY-SA" in v.licence or "GeoLite2" in v.licence)
    }
    return tuple(sorted(found))


def address_seen(ip: str, result: EndpointResult) -> str:
    """Where an address came from: "observed" (HAR/pcap/dig), "resolved", or both."""
    observed = any(o.ip == ip for o in result.endpoint.observed)
    resolved = any(a.ip == ip for r in result.resolutions for a in r.addresses)
    if observed and resolved:
        return "observed+resolved"
    return "observed" if observed else "resolved"


def observation_mismatch(result: EndpointResult) -> str | None:
    """When an input recorded the addresses an app contacted and re-resolving the name
    now gives another set, say how they differ (None when they agree or nothing to compare)."""
    observed = {o.ip for o in result.endpoint.observed}
    resolved = {
        a.ip for r in result.resolutions if r.outcome.value != "ip-literal" for a in r.addresses
    }
    if not observed or not any(r.outcome.value == "resolved" for r in result.resolutions):
        return None
    if observed == resolved:
        return None
    parts = []
    if observed - resolved:
        parts.append(f"observed only: {', '.join(sorted(observed - resolved))}")
    if resolved - observed:
        parts.append(f"re-resolved only: {', '.join(sorted(resolved - observed))}")
    return "; ".join(parts)


def vantage_comparison(result: EndpointResult) -> str | None:
    """With several vantages (EDNS Client Subnet), what each was served, when they differ."""
    served = [r for r in result.resolutions if r.vantage]
    if len(served) < 2:
        return None
    located = {f.ip: f.location.country or "??" for f in result.facts}
    views = {
        r.vantage: tuple(sorted({a.ip for a in r.addresses})) or (r.outcome.value,) for r in served
    }
    if len(set(views.values())) < 2:
        return None
    return "; ".join(
        f"{vantage} -> " + ", ".join(f"{ip} ({located[ip]})" if ip in located else ip for ip in ips)
        for vantage, ips in views.items()
    )
