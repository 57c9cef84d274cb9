"""Judge who controls the service (``[controllers] allow/deny``, ``unknown_controller``)
and the sovereign cloud it runs on (``[sovereign] allow/deny``).

This is the third side of a verdict, beside location (where the data is) and host operator
(whose hardware it is on): the controller is who runs the service that receives the data.
``jurisdiction = "ultimate-parent"`` judges the country of the top of its ownership chain
instead of its own; ``dpf = ["US"]`` lets a recipient there pass only when the EU-US Data
Privacy Framework list names it (and says so when the list is absent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from residency.model import EndpointResult, Reason, SovereignCloud, Verdict

if TYPE_CHECKING:
    from residency.policy.evaluate import AppliedScope
    from residency.policy.model import Scope

DPF_HINT = "residency data import FILE --as dpf-participants"


def sovereign_allowed(scope: Scope, cloud: SovereignCloud | None) -> bool:
    """The endpoint runs on an offering ``[sovereign] allow`` names."""
    allowed = scope.sovereign.allow if scope.sovereign is not None else None
    return cloud is not None and allowed is not None and cloud.offering in allowed


def sovereign_findings(
    applied: AppliedScope, result: EndpointResult
) -> list[tuple[Verdict, Reason]]:
    constraint = applied.scope.sovereign
    cloud = result.sovereign
    if constraint is None or cloud is None:
        return []
    on = f"[sovereign] runs on {cloud.name} ({cloud.basis}), operated by {cloud.chain_text()}"
    if cloud.offering in constraint.deny:
        deny = ", ".join(sorted(constraint.deny))
        return [
            (
                Verdict.FAIL,
                Reason(
                    "sovereign-denied",
                    f"{on}; denied by sovereign.deny = [{deny}]",
                    applied.label,
                    verdict=Verdict.FAIL,
                ),
            )
        ]
    if constraint.allow is not None and cloud.offering in constraint.allow:
        return [
            (
                Verdict.PASS,
                Reason("sovereign-allowed", f"{on}; allowed", applied.label, verdict=Verdict.PASS),
            )
        ]
    return []


def controller_findings(
    applied: AppliedScope, result: EndpointResult
) -> list[tuple[Verdict, Reason]]:
    from residency.policy.evaluate import handled

    scope = applied.scope
    constraint = scope.controllers
    if constraint is None:
        return []
    controller = result.controller
    if controller is None or controller.country is None:
        if not result.facts:
            return []  # no address, so nothing to probe: the unresolved rule decides
        why = controller.why if controller is not None and controller.why else "no evidence"
        asked = result.probes or result.registrant is not None
        hint = "" if asked else "; --probe tls, --rdap or [controllers.known] gives evidence"
        return [
            handled(
                scope.handling("unknown_controller"),
                "unknown_controller",
                "controller-unknown",
                f"[controller] who controls {result.endpoint.host} is unknown ({why}){hint}",
                applied.label,
                (),
            )
        ]
    who = f"controlled by {controller.chain_text()}"
    country = controller.country.upper()
    if constraint.jurisdiction == "ultimate-parent":
        top = controller.ultimate
        if sovereign_allowed(scope, result.sovereign):
            who += f"; on {result.sovereign.name} (sovereign.allow): judged by its own country"  # type: ignore[union-attr]
        elif top is not None and top.country is None:
            return [
                handled(
                    scope.handling("unknown_controller"),
                    "unknown_controller",
                    "controller-unknown",
                    f"[controller] {who}; the ultimate parent {top.entity}'s country is unknown",
                    applied.label,
                    (),
                )
            ]
        elif top is not None and controller.parents:
            country = (top.country or country).upper()
            who += f"; ultimate parent {top.entity} under {country} jurisdiction"
            if controller.parent_unknown:
                who += f" ({controller.parent_unknown})"
    if country in constraint.deny:
        return [
            (
                Verdict.FAIL,
                Reason(
                    "controller-denied",
                    f"[controller] {who}; denied by controllers.deny = "
                    f"[{constraint.describe_deny()}]",
                    applied.label,
                    verdict=Verdict.FAIL,
                ),
            )
        ]
    if constraint.allow is not None and country not in constraint.allow:
        if country in constraint.dpf:
            return [_dpf_finding(applied, who, country, controller.dpf)]
        return [
            (
                Verdict.FAIL,
                Reason(
                    "controller-not-allowed",
                    f"[controller] {who}; not in controllers.allow = "
                    f"[{constraint.describe_allow()}]",
                    applied.label,
                    verdict=Verdict.FAIL,
                ),
            )
        ]
    allowed = Reason(
        "controller-allowed", f"[controller] {who}", applied.label, verdict=Verdict.PASS
    )
    return [(Verdict.PASS, allowed)]


def _dpf_finding(
    applied: AppliedScope, who: str, country: str, status: str
) -> tuple[Verdict, Reason]:
    """A recipient in a country whose adequacy covers only DPF participants (the US)."""
    if status.startswith("listed"):
        text = f"[controller] {who}; a {country} recipient, DPF participant: {status}"
        return Verdict.PASS, Reason(
            "controller-dpf-listed", text, applied.label, verdict=Verdict.PASS
        )
    if status.startswith("not listed"):
        text = (
            f"[controller] {who}; a {country} recipient not on the EU-US DPF list ({status}): "
            "a transfer without an adequacy basis"
        )
        return Verdict.FAIL, Reason(
            "controller-dpf-not-listed", text, applied.label, verdict=Verdict.FAIL
        )
    text = (
        f"[controller] {who}; a {country} recipient is a transfer unless it is certified under "
        f"the EU-US Data Privacy Framework, and the DPF participant list is not installed "
        f"({DPF_HINT})"
    )
    return Verdict.INDETERMINATE, Reason(
        "controller-dpf-unknown", text, applied.label, verdict=Verdict.INDETERMINATE
    )
