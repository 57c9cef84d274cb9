"""Human-readable descriptions of a loaded policy and of the jurisdiction groups."""

from __future__ import annotations

from datetime import date
from typing import Any

from residency.policy.evaluate import EXPIRY_WARNING
from residency.policy.jurisdictions import Jurisdictions
from residency.policy.model import CodeConstraint, Policy, ProviderConstraint, Scope
from residency.timefmt import iso_day


def _codes(constraint: CodeConstraint | None) -> str:
    if constraint is None:
        return "any"
    parts = []
    if constraint.allow is not None:
        count = len(constraint.allow)
        plural = "countries" if count != 1 else "country"
        parts.append(f"allow {', '.join(constraint.allow_text)} ({count} {plural})")
    if constraint.deny_text:
        parts.append(f"deny {', '.join(constraint.deny_text)}")
    if constraint.dpf:
        parts.append(f"{', '.join(sorted(constraint.dpf))} recipients only if DPF-listed")
    text = "; ".join(parts) or "any"
    if constraint.jurisdiction != "own":
        text += f" (judged by the {constraint.jurisdiction}'s country)"
    return text


def _providers(constraint: ProviderConstraint | None) -> str:
    if constraint is None:
        return "any"
    parts = []
    if constraint.allow is not None:
        parts.append("allow " + ", ".join(str(s) for s in constraint.allow))
    if constraint.deny:
        parts.append("deny " + ", ".join(str(s) for s in constraint.deny))
    return "; ".join(parts) or "any"


def _scope_lines(scope: Scope, indent: str, inherited: bool) -> list[str]:
    lines = []
    for name, text in (
        ("countries", _codes(scope.countries)),
        ("providers", _providers(scope.providers)),
        ("operator_jurisdictions", _codes(scope.operator_jurisdictions)),
    ):
        if not inherited or getattr(scope, name) is not None:
            lines.append(f"{indent}{name}: {text}")
    for key in (
        "cdn",
        "anycast",
        "unknown_location",
        "unknown_operator",
        "not_routable",
        "unresolved",
    ):
        if not inherited or getattr(scope, key) is not None:
            lines.append(f"{indent}{key}: {scope.handling(key).value}")
    if scope.controllers is not None:  # only when set: most policies leave the controller free
        lines.append(f"{indent}controllers: {_codes(scope.controllers)}")
        lines.append(f"{indent}unknown_controller: {scope.handling('unknown_controller').value}")
    if scope.sovereign is not None:
        allowed = ", ".join(sorted(scope.sovereign.allow or ())) or "none named"
        denied = ", ".join(sorted(scope.sovereign.deny)) or "none"
        lines.append(f"{indent}sovereign offerings: allow {allowed}; deny {denied}")
    return lines


def describe_policy(policy: Policy, today: date) -> list[str]:
    """What the policy says, in the order it is applied, plus waiver warnings."""
    lines = [f"policy {policy.name} version {policy.version}: {policy.description}".rstrip(": ")]
    lines.append("policy-wide:")
    lines += _scope_lines(policy.base, "  ", inherited=False)
    for assignment in policy.categories:
        lines.append(f"category {assignment.name}: hosts {', '.join(assignment.hosts)}")
    for rule in policy.rules:
        scope = []
        if rule.hosts:
            scope.append("hosts " + ", ".join(rule.hosts))
        if rule.categories:
            scope.append("categories " + ", ".join(rule.categories))
        lines.append(f"{rule.label} (line {rule.line}): {'; '.join(scope)}")
        lines += _scope_lines(rule.scope, "  ", inherited=True)
    for waiver in policy.waivers:
        state = "valid"
        if waiver.expired(today):
            state = "EXPIRED: covered findings now FAIL"
        elif waiver.expires - today <= EXPIRY_WARNING:
            state = "expires soon"
        lines.append(
            f"{waiver.label} (line {waiver.line}): until {waiver.expires}, owner {waiver.owner} "
            f"[{state}]: {waiver.justification}"
        )
    return lines


def waiver_warnings(policy: Policy, today: date) -> list[str]:
    out = []
    for waiver in policy.waivers:
        if waiver.expired(today):
            out.append(
                f"{policy.path or policy.name}:{waiver.line}: warning: {waiver.label} expired "
                f"on {waiver.expires} (owner {waiver.owner})"
            )
    return out


def groups_table(jurisdictions: Jurisdictions) -> list[dict[str, Any]]:
    return [
        {
            "name": "@" + group.name,
            "description": group.description,
            "source": group.source,
            "as_of": iso_day(group.as_of),
            "members": list(group.members),
            "countries": sorted(group.countries),
            "note": group.note,
        }
        for group in jurisdictions.groups.values()
    ]


def groups_lines(table: list[dict[str, Any]]) -> list[str]:
    """``groups_table`` as ``residency policy groups`` prints it: three lines a group."""
    lines = []
    for group in table:
        lines.append(f"{group['name']}: {group['description']}")
        lines.append(f"  {len(group['countries'])} countries: {' '.join(group['countries'])}")
        lines.append(f"  source: {group['source']} (as of {group['as_of']})")
    return lines
