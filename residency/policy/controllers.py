"""Judge who controls the service (``[controllers] allow/deny``, ``unknown_controller``).

This is the third side of a verdict, beside location (where the data is) and host operator
(whose hardware it is on): the controller is who runs the service that receives the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from residency.model import EndpointResult, Reason, Verdict

if TYPE_CHECKING:
    from residency.policy.evaluate import AppliedScope


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
    who = f"controlled by {controller.entity} ({controller.country}, {controller.basis})"
    country = controller.country.upper()
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
