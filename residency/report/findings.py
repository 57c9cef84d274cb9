"""Findings grouped by reason, as linters group by rule: "located outside the allowed
countries (IN): api.account… (SG ×2), telemetry… (DE)". Built from the verdicts alone;
the terminal report prints one group per line under its table."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from residency.model import AuditResult, EndpointResult, IpFacts, Reason, Verdict
from residency.report.common import WARNING_PREFIX, is_passing, outcome_text

#: Reasons that record a check that passed or a fact with no breach: never a finding.
_NOT_FINDINGS = frozenset({"no-constraint", "cdn-edge-seen", "controller-allowed", "waived"})

#: Reason code -> the group's title; ``{list}`` is the policy list the message quotes.
TITLES = {
    "country-not-allowed": "located outside the allowed countries ({list})",
    "country-denied": "located in a denied country ({list})",
    "provider-not-allowed": "on a provider or region not allowed ({list})",
    "provider-denied": "on a denied provider or region ({list})",
    "operator-jurisdiction-not-allowed": "operator under a jurisdiction not allowed ({list})",
    "operator-jurisdiction-denied": "operator under a denied jurisdiction ({list})",
    "controller-not-allowed": "controlled from a country not allowed ({list})",
    "controller-denied": "controlled from a denied country ({list})",
    "controller-unknown": "who controls it is unknown",
    "controller-dpf-not-listed": "controller not listed under the Data Privacy Framework",
    "controller-dpf-unknown": "controller's Data Privacy Framework listing unknown",
    "sovereign-denied": "on a sovereign cloud the policy denies ({list})",
    "anycast": "anycast: served from many places",
    "cdn-edge": "CDN edge: its origin is unknown",
    "cdn-edge-unseen": "CDN edge, but no edge place was seen",
    "no-data": "location unknown",
    "sources-disagree": "location sources disagree",
    "region-unknown": "provider region unknown",
    "operator-unknown": "operator jurisdiction unknown",
    "not-routable": "not publicly routable",
    "resolution-failed": "no address",
    "waiver-expired": "waiver expired",
    "waived": "waived",
    "partial-resolution": "some resolutions failed; their addresses are not judged",
    "waiver-expiring": "waiver expires soon",
}

_LIST = re.compile(r"(?:allow|deny) = \[([^\]]*)\]")
_HANDLING = re.compile(r"\((\w+ = \w+)\)(?:$|;)")
_LOCATION_CODES = frozenset({"country-not-allowed", "country-denied", "sources-disagree"})
_OPERATOR_CODES = frozenset(
    {"operator-jurisdiction-not-allowed", "operator-jurisdiction-denied", "operator-unknown"}
)
_PROVIDER_CODES = frozenset(
    {"provider-not-allowed", "provider-denied", "region-unknown", "anycast", "cdn-edge"}
)


@dataclass(frozen=True)
class Member:
    """One endpoint in a group with one detail of it there: "SG" for 2 addresses."""

    name: str  # Endpoint.display
    detail: str  # the country, operator, provider...; "" when there is nothing to add
    count: int = 1  # how many of its addresses have this detail


@dataclass(frozen=True)
class ReasonGroup:
    """Endpoints that share one reason: same verdict, same code, same policy list."""

    verdict: Verdict | None  # None: a note that decides nothing
    code: str  # the reason code, without the note prefix
    title: str
    rule: str | None  # the policy rule that decided, e.g. "rules[payments]"; None: several
    members: tuple[Member, ...]


def _short_entity(text: str) -> str:
    """A company name without its legal form: "Amazon Web Services, Inc." -> "Amazon Web
    Services" (display only; the full name is in --details and every other format)."""
    return re.sub(
        r",?\s+(Inc\.?|LLC|L\.L\.C\.|Ltd\.?|Limited|Private Limited|Co\., Ltd\.|Corporation|"
        r"Corp\.?|GmbH|AG|S\.A\.|B\.V\.|Pte\.? Ltd\.?|PLC|plc)$",
        "",
        text.strip(),
    )


def operator_short(facts: IpFacts) -> str:
    """ "Amazon Web Services (US)"; "unknown" without an operator or registration."""
    operator = facts.operator
    if operator is None or (operator.entity is None and operator.jurisdiction is None):
        registration = facts.registration
        if registration is not None and registration.status == "known" and registration.org:
            return f"{_short_entity(registration.org)} ({registration.country or '??'}, RIR)"
        return "unknown"
    who = _short_entity(operator.entity or operator.provider or "?")
    return f"{who} ({operator.jurisdiction or '??'})"


def operator_compact(facts: IpFacts) -> str:
    """ "aws (US)": the provider's key where it has one, for narrow terminals."""
    operator = facts.operator
    if operator is not None and operator.provider and operator.jurisdiction:
        return f"{operator.provider} ({operator.jurisdiction})"
    return operator_short(facts)


def controller_short(result: EndpointResult) -> str:
    """ "Kitepay Payments India (IN)", "unknown", or "-" when nothing was asked."""
    controller = result.controller
    if controller is None:
        return "-"
    if controller.entity is None:
        return "unknown"
    return f"{_short_entity(controller.entity)} ({controller.country or '??'})"


def _detail(code: str, facts: IpFacts | None, endpoint: EndpointResult) -> str:
    if code.startswith("controller"):
        return controller_short(endpoint) if endpoint.controller else ""
    if code == "resolution-failed" or facts is None:
        return outcome_text(endpoint) if code == "resolution-failed" else ""
    if code in _LOCATION_CODES:
        return facts.location.country or "unplaced"
    if code in _OPERATOR_CODES:
        return operator_short(facts)
    if code in _PROVIDER_CODES:
        return facts.provider or facts.as_org or (f"AS{facts.asn}" if facts.asn else "unknown")
    return ""


def _title(code: str, message: str) -> str:
    template = TITLES.get(code, code.replace("-", " "))
    found = _LIST.search(message)
    title = template.replace("{list}", found.group(1) if found else "?")
    handling = _HANDLING.search(message)
    if handling and "{list}" not in template:
        title += f" ({handling.group(1)})"  # "(cdn = warn)": why it is this verdict
    return title


class _Collector:
    """Findings keyed by (severity, code, title); members and details in first-seen order."""

    def __init__(self) -> None:
        self.details: dict[tuple[int, str, str], dict[str, list[str]]] = {}
        self.meta: dict[tuple[int, str, str], tuple[Verdict | None, str, set[str | None]]] = {}

    def add(
        self,
        verdict: Verdict | None,
        reason: Reason,
        facts: IpFacts | None,
        endpoint: EndpointResult,
    ) -> None:
        code = reason.code.removeprefix(WARNING_PREFIX)
        title = _title(code, reason.message)
        if code == "waived":  # "waived until 2027-03-31 (owner platform-team, ...)"
            title = "waived " + reason.message.split(":", 1)[0].removeprefix("waived ")
        key = (verdict.severity if verdict is not None else -1, code, title)
        members = self.details.setdefault(key, {})
        members.setdefault(endpoint.endpoint.display, []).append(_detail(code, facts, endpoint))
        self.meta.setdefault(key, (verdict, code, set()))[2].add(reason.rule)

    def consider(
        self, reason: Reason, verdict: Verdict, facts: IpFacts | None, endpoint: EndpointResult
    ) -> None:
        """Adds ``reason`` as a finding unless it records a pass."""
        if reason.code in _NOT_FINDINGS or is_passing(reason):
            return
        if reason.code.startswith(WARNING_PREFIX):
            self.add(None, reason, facts, endpoint)  # a note: decides nothing
            return
        own = reason.verdict or verdict  # a FAIL address may carry a WARN finding too
        if own is not Verdict.PASS:
            self.add(own, reason, facts, endpoint)

    def groups(self) -> tuple[ReasonGroup, ...]:
        out = []
        for key in sorted(self.details, key=lambda k: (-k[0], k[1], k[2])):
            verdict, code, rules = self.meta[key]
            members = tuple(
                Member(name, detail, count)
                for name, details in self.details[key].items()
                for detail, count in Counter(details).items()
            )
            rule = next(iter(rules)) if len(rules) == 1 else None
            out.append(ReasonGroup(verdict, code, key[2], rule, members))
        return tuple(out)


def reason_groups(result: AuditResult) -> tuple[ReasonGroup, ...]:
    """Every finding of a judged audit grouped by (verdict, code, title), worst first; each
    group's members in input order, each member once with its details counted."""
    found = _Collector()
    for endpoint in result.endpoints:
        judged = endpoint.verdict
        if judged is None:
            continue
        facts_of = {f.ip: f for f in endpoint.facts}
        for address in judged.addresses:
            facts = facts_of.get(address.ip)
            if address.verdict is Verdict.WAIVED:
                for reason in address.reasons:
                    if reason.code == "waived":
                        found.add(Verdict.WAIVED, reason, facts, endpoint)
                continue
            for reason in address.reasons:
                found.consider(reason, address.verdict, facts, endpoint)
        waived = any(r.code == "waived" for r in judged.reasons)  # by a host waiver
        for reason in judged.reasons:
            if reason.code == "waived":
                found.add(Verdict.WAIVED, reason, None, endpoint)
            elif not waived or reason.code.startswith(WARNING_PREFIX):
                found.consider(reason, judged.verdict, None, endpoint)
    return found.groups()
