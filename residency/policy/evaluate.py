"""Judge an audited endpoint against a policy: a verdict per address, with reasons and evidence.

Precedence (most specific wins): an address waiver, then a host waiver, then the host-pattern
rule with the most specific (longest literal) pattern, then category rules, then the
policy-wide settings. A rule overrides only the sections it sets; the rest is inherited.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from residency.model import (
    WITHHELD_BASIS,
    AddressVerdict,
    AuditResult,
    Confidence,
    EndpointResult,
    EndpointVerdict,
    EvidenceKind,
    IpFacts,
    Outcome,
    ProbeResult,
    Reason,
    Resolution,
    SovereignCloud,
    Verdict,
)
from residency.model.audit import SEVERITY
from residency.policy.controllers import controller_findings, sovereign_allowed, sovereign_findings
from residency.policy.jurisdictions import Jurisdictions, default_jurisdictions
from residency.policy.model import (
    CodeConstraint,
    Handling,
    Policy,
    Rule,
    Scope,
    Waiver,
    glob_specificity,
)

#: Reason codes that are notes on a verdict they do not change (reports mark them). What a
#: policy chose to warn about (``cdn = "warn"``) is not a note: it is the WARN verdict.
WARNING_PREFIX = "warn-"
#: A waiver this close to expiry gets a warning.
EXPIRY_WARNING = timedelta(days=14)

_LOCATION_KINDS = {
    EvidenceKind.PROVIDER_FEED,
    EvidenceKind.GEOFEED,
    EvidenceKind.GEOIP,
    EvidenceKind.HOSTNAME,
}
_AUTHORITATIVE_BASES = {"provider-feed", "geofeed"}


@dataclass(frozen=True)
class AppliedScope:
    """The settings that apply to one endpoint, and the rule they come from."""

    scope: Scope
    label: str  # "policy" or "rules[name]"
    rule: Rule | None = None


@dataclass(frozen=True)
class _Finding:
    verdict: Verdict
    reason: Reason
    aspect: str  # "location" or "operator"


def scopes_for(policy: Policy, host: str, categories: tuple[str, ...]) -> tuple[AppliedScope, ...]:
    """The scope(s) an endpoint is judged under, by precedence.

    One host-pattern rule wins if any matches (most literal characters; a rule that also
    requires a matching category beats one that does not; then file order). Otherwise every
    matching category rule applies and the strictest outcome counts. Otherwise the policy.
    """
    cats = set(policy.categories_of(host, categories))
    best: tuple[tuple[int, int, int], Rule] | None = None
    category_rules: list[Rule] = []
    # Only rules whose host pattern matches (from the policy's index) and rules without
    # host patterns can apply; they are read in file order, as the precedence needs.
    matched = policy.host_rule_matches(host)
    for index in sorted((*matched, *policy.category_free_rules)):
        rule = policy.rules[index]
        category_ok = not rule.categories or bool(cats.intersection(rule.categories))
        if not category_ok:
            continue
        if rule.hosts:
            pattern = matched[index]
            rank = (glob_specificity(pattern), 1 if rule.categories else 0, -index)
            if best is None or rank > best[0]:
                best = (rank, rule)
        else:
            category_rules.append(rule)
    chosen = [best[1]] if best else category_rules
    if not chosen:
        return (AppliedScope(policy.base, "policy"),)
    return tuple(AppliedScope(policy.base.overlaid(r.scope), r.label, r) for r in chosen)


def handled(
    handling: Handling, key: str, code: str, message: str, label: str, evidence: tuple[str, ...]
) -> tuple[Verdict, Reason]:
    """The verdict and reason a handling key (``cdn = "warn"``, ...) gives a finding."""
    if handling is Handling.ALLOW:
        verdict, message = Verdict.PASS, f"{message}; accepted ({key} = allow)"
    elif handling is Handling.WARN:
        verdict, message = Verdict.WARN, f"{message} ({key} = warn)"
    elif handling is Handling.FAIL:
        verdict, message = Verdict.FAIL, f"{message} ({key} = fail)"
    else:
        verdict = Verdict.INDETERMINATE
    return verdict, Reason(code, message, label, evidence, verdict)


def _operator_judged(
    constraint: CodeConstraint, jurisdiction: str, text: str, label: str, evidence: tuple[str, ...]
) -> _Finding:
    """``operator_jurisdictions`` applied to the country that decides (the operator's own,
    or its ultimate parent's): one finding whose reason carries its own verdict."""
    verdict, how = _country_verdict(constraint, jurisdiction)
    if how == "denied":
        code = "operator-jurisdiction-denied"
        text += f"; denied by operator_jurisdictions.deny = [{constraint.describe_deny()}]"
    elif how == "not-allowed":
        code = "operator-jurisdiction-not-allowed"
        text += f"; not in operator_jurisdictions.allow = [{constraint.describe_allow()}]"
    else:
        code = "operator-jurisdiction-allowed"
        text += "; allowed"
    return _Finding(verdict, Reason(code, text, label, evidence, verdict), "operator")


def _country_verdict(constraint: CodeConstraint, country: str) -> tuple[Verdict, str]:
    if country in constraint.deny:
        return Verdict.FAIL, "denied"
    if constraint.allow is not None and country not in constraint.allow:
        return Verdict.FAIL, "not-allowed"
    return Verdict.PASS, "allowed"


class Evaluator:
    """Evaluates endpoints against one policy; holds the country names for messages."""

    def __init__(self, policy: Policy, jurisdictions: Jurisdictions | None = None) -> None:
        self.policy = policy
        self.jurisdictions = jurisdictions or default_jurisdictions()

    # -- one address
    def location(
        self, facts: IpFacts, applied: AppliedScope, probes: Sequence[ProbeResult] = ()
    ) -> list[_Finding]:
        scope, label = applied.scope, applied.label
        out: list[_Finding] = []
        evidence = tuple(e.summary() for e in facts.evidence if e.kind in _LOCATION_KINDS)

        def add(verdict: Verdict, reason: Reason) -> None:
            out.append(_Finding(verdict, reason, "location"))

        by_edge = False
        if facts.anycast or facts.cdn:
            key = "anycast" if facts.anycast else "cdn"
            who = facts.provider or facts.as_org or "unknown provider"
            what = "anycast address" if facts.anycast else "CDN edge"
            if scope.handling(key) is Handling.EDGE:
                # the edge seen replaces the address's own place: it is where this
                # vantage's data went; another client may be served by another edge
                by_edge = True
                add(*self.edge_seen(facts, scope, label, key, f"{what} ({who})", probes))
            else:
                # an anycast address is served from many places at once; a CDN edge is one
                # server whose own place is judged below, but the origin behind it is unknown
                served = "served from many places" if facts.anycast else "an edge server"
                message = f"{what} ({who}): {served}, the origin behind it is unknown"
                add(
                    *handled(
                        scope.handling(key),
                        key,
                        key.replace("cdn", "cdn-edge"),
                        message,
                        label,
                        evidence,
                    )
                )

        place = facts.location.place
        if by_edge:
            pass
        elif place is None:
            if not (facts.anycast or facts.cdn):
                if facts.disagreements:
                    code = "sources-disagree"
                    message = "sources disagree: " + "; ".join(facts.disagreements)
                    if facts.location.basis == WITHHELD_BASIS:  # with the measured figure
                        message = f"{facts.location.why}; {message}"
                else:
                    code = "no-data"
                    message = "location unknown: " + (facts.location.why or "no source covers it")
                add(
                    *handled(
                        scope.handling("unknown_location"),
                        "unknown_location",
                        code,
                        message,
                        label,
                        evidence,
                    )
                )
        elif scope.countries is not None:
            add(*self.countries(facts, scope, label, evidence))

        if scope.providers is not None:
            add(*self.providers(facts, scope, label))
        return out

    def edge_seen(
        self,
        facts: IpFacts,
        scope: Scope,
        label: str,
        key: str,
        what: str,
        probes: Sequence[ProbeResult],
    ) -> tuple[Verdict, Reason]:
        """``cdn = "edge"``: judge by the PoP an http probe of this endpoint saw."""
        seen, unseen = _edge_probe(facts.ip, probes)
        if seen is None or seen.edge_place is None:
            message = (
                f"{what}: {key} = edge, but no edge place was seen ({unseen}); "
                "the origin behind it is unknown"
            )
            verdict = Verdict.INDETERMINATE
            return verdict, Reason("cdn-edge-unseen", message, label, (), verdict)
        place = seen.edge_place
        where = ", ".join(x for x in (seen.edge_pop, place.city, place.country) if x)
        probed = "" if seen.ip == facts.ip else f", probing {seen.ip} of the same answer"
        text = (
            f"{what} judged by the edge seen from this vantage ({seen.vantage}) at "
            f"{seen.when or 'an unrecorded time'}: {seen.edge_cdn} {where}{probed}; "
            "the origin is unknown"
        )
        evidence = (f"http probe {seen.ip}: {seen.detail}", f"PoP place: {seen.edge_basis}")
        constraint = scope.countries
        if constraint is None:
            return Verdict.PASS, Reason("cdn-edge-seen", text, label, evidence, Verdict.PASS)
        verdict, how = _country_verdict(constraint, place.country)
        if how == "denied":
            code, text = "country-denied", f"{text}; {place.country} denied by countries.deny = "
            text += f"[{constraint.describe_deny()}]"
        elif how == "not-allowed":
            code = "country-not-allowed"
            text += f"; {place.country} not in countries.allow = [{constraint.describe_allow()}]"
        else:
            code, text = "country-allowed", f"{text}; {place.country} allowed"
        return verdict, Reason(code, text, label, evidence, verdict)

    def countries(
        self, facts: IpFacts, scope: Scope, label: str, evidence: tuple[str, ...]
    ) -> tuple[Verdict, Reason]:
        assert scope.countries is not None and facts.location.place is not None
        constraint = scope.countries
        country = facts.location.place.country
        verdict, how = _country_verdict(constraint, country)
        where = f"located in {country} ({self.jurisdictions.name_of(country)})"
        where += f", {facts.location.basis}, {facts.location.confidence.value} confidence"
        # Do the sources that place it elsewhere change the outcome? Trust an
        # authoritative tier (provider's own feed or geofeed); otherwise that is unknown.
        claimed = {e.place.country for e in facts.evidence if e.kind in _LOCATION_KINDS and e.place}
        outcomes = {_country_verdict(constraint, c)[0] for c in claimed | {country}}
        authoritative = (
            facts.location.basis in _AUTHORITATIVE_BASES
            or facts.location.confidence is Confidence.HIGH
        )
        if len(outcomes) > 1 and not authoritative:
            others = ", ".join(sorted(claimed - {country}))
            message = f"sources disagree: merged answer {country}, other sources say {others}"
            if facts.disagreements:
                message += " (" + "; ".join(facts.disagreements) + ")"
            return handled(
                scope.handling("unknown_location"),
                "unknown_location",
                "sources-disagree",
                message,
                label,
                evidence,
            )
        if how == "denied":
            text = f"{where}; denied by countries.deny = [{constraint.describe_deny()}]"
            code = "country-denied"
        elif how == "not-allowed":
            text = f"{where}; not in countries.allow = [{constraint.describe_allow()}]"
            code = "country-not-allowed"
        else:
            text = f"{where}; allowed"
            code = "country-allowed"
        if len(outcomes) > 1:
            text += " (other sources disagree; the provider's own data is trusted)"
        return verdict, Reason(code, text, label, evidence, verdict)

    def providers(self, facts: IpFacts, scope: Scope, label: str) -> tuple[Verdict, Reason]:
        assert scope.providers is not None
        constraint = scope.providers
        provider, region = facts.provider, facts.region
        shown = f"{provider}:{region}" if provider and region else (provider or "no known provider")
        evidence = tuple(e.summary() for e in facts.evidence if e.provider)
        for selector in constraint.deny:
            if selector.matches(provider, region):
                message = f"on {shown}; denied by providers.deny entry {selector}"
                return Verdict.FAIL, Reason(
                    "provider-denied", message, label, evidence, Verdict.FAIL
                )
        passed = Reason("provider-allowed", f"on {shown}; allowed", label, evidence, Verdict.PASS)
        if constraint.allow is None:
            return Verdict.PASS, passed
        allowed = ", ".join(str(s) for s in constraint.allow)
        if any(s.matches(provider, region) for s in constraint.allow):
            return Verdict.PASS, passed
        if provider and region is None and any(s.provider == provider for s in constraint.allow):
            message = f"on {provider} but its region is unknown; allowed: {allowed}"
            return handled(
                scope.handling("unknown_location"),
                "unknown_location",
                "region-unknown",
                message,
                label,
                evidence,
            )
        message = f"on {shown}; not in providers.allow = [{allowed}]"
        return Verdict.FAIL, Reason("provider-not-allowed", message, label, evidence, Verdict.FAIL)

    def operator(
        self, facts: IpFacts, applied: AppliedScope, sovereign: SovereignCloud | None = None
    ) -> list[_Finding]:
        scope, label = applied.scope, applied.label
        constraint = scope.operator_jurisdictions
        if constraint is None:
            return []
        operator = facts.operator
        if constraint.jurisdiction == "ultimate-parent":
            return self.operator_parent(facts, applied, sovereign)
        evidence: list[str] = []
        if operator is not None:
            entity = operator.entity or operator.provider or "unknown entity"
            evidence.append(
                f"operator: {entity}, {operator.jurisdiction or '??'}"
                + (f" ({operator.basis})" if operator.basis else "")
            )
        registration = facts.registration
        if registration is not None and registration.status == "known":
            evidence.append(
                f"registration: {registration.org or registration.network_name or '?'}, "
                f"{registration.country or '??'} ({registration.source})"
            )
        jurisdiction = operator.jurisdiction if operator else None
        if jurisdiction is None:
            verdict, reason = handled(
                scope.handling("unknown_operator"),
                "unknown_operator",
                "operator-unknown",
                "operator jurisdiction unknown"
                + (f" ({operator.basis})" if operator and operator.basis else ""),
                label,
                tuple(evidence),
            )
            return [_Finding(verdict, reason, "operator")]
        entity = (operator.entity or operator.provider or "operator") if operator else "operator"
        text = f"operated by {entity} under {jurisdiction} jurisdiction"
        return [_operator_judged(constraint, jurisdiction, text, label, tuple(evidence))]

    def operator_parent(
        self, facts: IpFacts, applied: AppliedScope, sovereign: SovereignCloud | None
    ) -> list[_Finding]:
        """``operator_jurisdictions.jurisdiction = "ultimate-parent"``: the country of the
        top of the operator's ownership chain (the sovereign offering's, when the endpoint
        runs on one; its own country when ``[sovereign] allow`` names it)."""
        scope, label = applied.scope, applied.label
        constraint = scope.operator_jurisdictions
        assert constraint is not None
        operator = facts.operator
        if sovereign is not None:
            chain = sovereign.chain_text()
            if sovereign_allowed(scope, sovereign):
                judged, top = sovereign.country, sovereign.entity
                chain += f"; on {sovereign.name} (sovereign.allow): judged by its own country"
            else:
                judged, top = sovereign.ultimate.country, sovereign.ultimate.entity
            evidence: tuple[str, ...] = (f"sovereign cloud: {sovereign.name} ({sovereign.basis})",)
        elif operator is not None and operator.jurisdiction is not None:
            from residency.control.organisations import operator_chain

            parents = operator_chain(operator.provider, operator.entity)
            ultimate = parents[-1] if parents else None
            judged = (ultimate.country if ultimate else None) or operator.jurisdiction
            top = ultimate.entity if ultimate else (operator.entity or operator.provider or "?")
            from residency.model.probes import ownership_text

            chain = ownership_text(
                operator.entity or operator.provider or "operator",
                operator.jurisdiction,
                parents,
                operator.basis,
            )
            evidence = (f"operator: {chain}",)
        else:
            verdict, reason = handled(
                scope.handling("unknown_operator"),
                "unknown_operator",
                "operator-unknown",
                "operator jurisdiction unknown, so is its ultimate parent's"
                + (f" ({operator.basis})" if operator and operator.basis else ""),
                label,
                (),
            )
            return [_Finding(verdict, reason, "operator")]
        if judged is None:
            verdict, reason = handled(
                scope.handling("unknown_operator"),
                "unknown_operator",
                "operator-unknown",
                f"operated by {chain}; the ultimate parent's country is unknown",
                label,
                evidence,
            )
            return [_Finding(verdict, reason, "operator")]
        text = f"operated by {chain}; ultimate parent {top} under {judged} jurisdiction"
        return [_operator_judged(constraint, judged, text, label, tuple(evidence))]

    def address(
        self,
        facts: IpFacts,
        applied: AppliedScope,
        probes: Sequence[ProbeResult] = (),
        sovereign: SovereignCloud | None = None,
    ) -> AddressVerdict:
        if not facts.routable:
            why = facts.not_routable_reason or "not publicly routable"
            verdict, reason = handled(
                applied.scope.handling("not_routable"),
                "not_routable",
                "not-routable",
                f"{facts.ip} is not publicly routable ({why}): where it leads is unknown",
                applied.label,
                (),
            )
            return AddressVerdict(facts.ip, verdict, (reason,), "location")
        findings = self.location(facts, applied, probes) + self.operator(facts, applied, sovereign)
        if not findings:
            reason = Reason(
                "no-constraint",
                "the policy constrains nothing here",
                applied.label,
                (),
                Verdict.PASS,
            )
            return AddressVerdict(facts.ip, Verdict.PASS, (reason,), "location")
        verdict = max((f.verdict for f in findings), key=SEVERITY.__getitem__)
        ordered = sorted(findings, key=lambda f: -SEVERITY[f.verdict])
        if verdict is Verdict.PASS:
            aspects = {f.aspect for f in findings}
        else:
            aspects = {f.aspect for f in findings if f.verdict == verdict}
        aspect = aspects.pop() if len(aspects) == 1 else "both"
        return AddressVerdict(facts.ip, verdict, tuple(f.reason for f in ordered), aspect)

    # -- waivers
    def waiver_for(self, host: str, ip: str | None) -> Waiver | None:
        if ip is not None:
            by_address = [w for w in self.policy.waivers if w.covers_address(ip)]
            if by_address:
                return max(
                    by_address,
                    key=lambda w: ipaddress.ip_network(w.address or "0.0.0.0/0").prefixlen,
                )
        by_host = self.policy.waivers_for_host(host)
        if by_host:
            return max(by_host, key=lambda w: glob_specificity(w.host or ""))
        return None

    def waived(
        self,
        verdict: Verdict,
        reasons: tuple[Reason, ...],
        waiver: Waiver | None,
        today: date,
        needed_elsewhere: bool = False,
    ) -> tuple[Verdict, tuple[Reason, ...]]:
        """``needed_elsewhere``: an address of this endpoint still breaches without the
        waiver, so a passing endpoint-level check must not call the waiver unneeded."""
        if waiver is None:
            return verdict, reasons
        whose = f"owner {waiver.owner}" + (f", {waiver.reference}" if waiver.reference else "")
        if verdict is Verdict.PASS:
            if waiver.expired(today) and not needed_elsewhere:
                note = Reason(
                    WARNING_PREFIX + "waiver-expired",
                    f"warning: {waiver.label} expired on {waiver.expires} ({whose}); "
                    "it is no longer needed, remove it",
                    waiver.label,
                )
                return verdict, (*reasons, note)
            return verdict, reasons
        if waiver.expired(today):
            reason = Reason(
                "waiver-expired",
                f"warning: {waiver.label} expired on {waiver.expires} ({whose}); "
                f"was: {waiver.justification}",
                waiver.label,
            )
            return Verdict.FAIL, (replace(reason, verdict=Verdict.FAIL), *reasons)
        reason = Reason(
            "waived",
            f"waived until {waiver.expires} ({whose}): {waiver.justification}",
            waiver.label,
        )
        extra: tuple[Reason, ...] = ()
        if waiver.expires - today <= EXPIRY_WARNING:
            extra = (
                Reason(
                    WARNING_PREFIX + "waiver-expiring",
                    f"warning: {waiver.label} expires on {waiver.expires}",
                    waiver.label,
                ),
            )
        return Verdict.WAIVED, (reason, *extra, *reasons)

    # -- one endpoint
    def endpoint(self, result: EndpointResult, today: date) -> EndpointVerdict:
        endpoint = result.endpoint
        applied = scopes_for(self.policy, endpoint.host, endpoint.categories)
        addresses: list[AddressVerdict] = []
        breaches = False  # does any address breach before waivers?
        for facts in result.facts:
            candidates = [self.address(facts, a, result.probes, result.sovereign) for a in applied]
            worst = max(candidates, key=lambda v: SEVERITY[v.verdict])  # first of the strictest
            breaches = breaches or worst.verdict is not Verdict.PASS
            verdict, reasons = self.waived(
                worst.verdict, worst.reasons, self.waiver_for(endpoint.host, facts.ip), today
            )
            addresses.append(replace(worst, verdict=verdict, reasons=reasons))

        level: list[tuple[Verdict, Reason]] = []
        failed = [
            r for r in result.resolutions if r.outcome not in (Outcome.RESOLVED, Outcome.LITERAL)
        ]
        if not result.facts:
            if result.resolutions:
                detail = "; ".join(_resolution_problem(r) for r in result.resolutions)
            else:
                detail = "nothing was resolved or observed"
            level.append(
                handled(
                    applied[0].scope.handling("unresolved"),
                    "unresolved",
                    "resolution-failed",
                    f"no address for {endpoint.host}: {detail}",
                    applied[0].label,
                    (),
                )
            )
        elif failed:
            detail = "; ".join(_resolution_problem(r) for r in failed)
            level.append(
                (
                    Verdict.PASS,
                    Reason(
                        WARNING_PREFIX + "partial-resolution",
                        f"warning: some resolutions failed ({detail}); "
                        "addresses they would have returned are not judged",
                        applied[0].label,
                    ),
                )
            )
        level.extend(controller_findings(applied[0], result))
        level.extend(sovereign_findings(applied[0], result))
        endpoint_verdict = max(
            (v for v, _ in level), default=Verdict.PASS, key=SEVERITY.__getitem__
        )
        endpoint_reasons = tuple(r for _, r in level)
        endpoint_verdict, endpoint_reasons = self.waived(
            endpoint_verdict,
            endpoint_reasons,
            self.waiver_for(endpoint.host, None),
            today,
            needed_elsewhere=breaches,
        )
        overall = max([endpoint_verdict, *(a.verdict for a in addresses)], key=SEVERITY.__getitem__)
        return EndpointVerdict(overall, tuple(addresses), endpoint_reasons)


def _edge_probe(ip: str, probes: Sequence[ProbeResult]) -> tuple[ProbeResult | None, str]:
    """The http probe that saw a CDN edge (this address's first, else the endpoint's), or
    None and why no edge was seen."""
    http = [p for p in probes if p.kind == "http"]
    if not http:
        return None, "no http probe ran: audit with --probe http"
    seen = [p for p in http if p.outcome == "ok" and p.edge_cdn is not None]
    if seen:
        seen.sort(key=lambda p: p.ip != ip)
        best = seen[0]
        if best.edge_place is None:
            code = best.edge_pop or "no PoP code"
            return best, f"{best.edge_cdn} answered, but {code} names no known place"
        return best, ""
    failed = [p for p in http if p.outcome != "ok"]
    if failed:
        return None, "http probe " + ", ".join(f"{p.outcome} {p.detail}".strip() for p in failed)
    return None, "the http probe's answer named no CDN edge"


def _resolution_problem(resolution: Resolution) -> str:
    text = f"{resolution.outcome.value} from {resolution.resolver}"
    if resolution.vantage:
        text += f" (vantage {resolution.vantage})"
    if resolution.error:
        text += f": {resolution.error}"
    return text


def evaluate(
    policy: Policy,
    result: EndpointResult,
    today: date,
    *,
    jurisdictions: Jurisdictions | None = None,
) -> EndpointVerdict:
    """The verdict of one endpoint: the worst of its addresses and of endpoint-level reasons."""
    return Evaluator(policy, jurisdictions).endpoint(result, today)


def judge_recorded(
    policy: Policy, jurisdictions: Jurisdictions | None = None
) -> Callable[[EndpointResult, float], EndpointVerdict]:
    """Judges recorded checks after the fact: each one as on the day (UTC) it was made, so
    a waiver counts where it was in force then."""
    evaluator = Evaluator(policy, jurisdictions)

    def judge(result: EndpointResult, checked_at: float) -> EndpointVerdict:
        return evaluator.endpoint(result, datetime.fromtimestamp(checked_at, UTC).date())

    return judge


def overall_verdict(verdicts: Iterable[Verdict]) -> Verdict:
    """The worst verdict; PASS when there is nothing to judge."""
    return max(verdicts, default=Verdict.PASS, key=SEVERITY.__getitem__)


def apply_policy(policy: Policy, audit: AuditResult, today: date) -> AuditResult:
    """The audit with every endpoint judged, the overall verdict and the policy reference set."""
    evaluator = Evaluator(policy)
    endpoints = tuple(replace(e, verdict=evaluator.endpoint(e, today)) for e in audit.endpoints)
    overall = overall_verdict(e.verdict.verdict for e in endpoints if e.verdict is not None)
    notes = tuple(
        f"policy {policy.name}: {waiver.label} expired on {waiver.expires} (owner {waiver.owner})"
        for waiver in policy.waivers
        if waiver.expired(today)
    )
    return replace(
        audit,
        endpoints=endpoints,
        verdict=overall,
        policy=policy.ref,
        notes=audit.notes + notes,
    )
