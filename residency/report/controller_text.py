"""Text for the controller and the CDN edge seen, shared by the text reports.

"SG · AWS (US) · controlled by Beijing Xiaomi Mobile Software Co., Ltd. (CN, OV certificate)"
"""

from __future__ import annotations

from residency.model import EndpointResult
from residency.report.common import operator_text


def controller_text(result: EndpointResult) -> str:
    controller = result.controller
    if controller is None:
        return ""
    if controller.entity is None:
        return f"controller unknown ({controller.why})" if controller.why else "controller unknown"
    return f"controlled by {controller.entity} ({controller.country or '??'}, {controller.basis})"


def edge_text(result: EndpointResult) -> str:
    """The edge this vantage was served by, e.g. "edge for this vantage: FRA, Frankfurt, DE"."""
    for probe in result.probes:
        if probe.kind != "http" or probe.edge_cdn is None:
            continue
        where = "place unknown"
        if probe.edge_place is not None:
            where = ", ".join(x for x in (probe.edge_place.city, probe.edge_place.country) if x)
        code = f"{probe.edge_pop}, " if probe.edge_pop else ""
        return f"{probe.edge_cdn} edge for this vantage ({probe.vantage}): {code}{where}"
    return ""


def registrant_text(result: EndpointResult) -> str:
    """ "registrant Example Ltd (GB)", "registrant redacted", "registrant unknown (...)"."""
    registrant = result.registrant
    if registrant is None:
        return ""
    if registrant.status == "redacted":
        server = registrant.server or "server unknown"
        return f"registrant redacted ({registrant.domain}, RDAP {server})"
    if registrant.status == "known" and (registrant.org or registrant.country):
        who = registrant.org or "no organisation named"
        return f"registrant {who} ({registrant.country or '??'})"
    return f"registrant unknown ({registrant.reason or 'no reason given'})"


def probe_failures(result: EndpointResult) -> str:
    failed = [f"{p.kind} {p.outcome}" for p in result.probes if p.outcome != "ok"]
    return "probe " + ", ".join(failed) if failed else ""


def controller_line(result: EndpointResult) -> str:
    """One line per endpoint that was probed or has a controller; "" otherwise."""
    if result.controller is None and not result.probes:
        return ""
    countries = dict.fromkeys(f.location.country or "unknown" for f in result.facts)
    operators = dict.fromkeys(operator_text(f) for f in result.facts)
    controlled = controller_text(result)
    registered = registrant_text(result)
    parts = [", ".join(countries) or "-", ", ".join(operators) or "-", controlled]
    # The registrant is shown once: in the controller's reasons when it is one of them.
    basis = result.controller.basis if result.controller else ""
    shown = registered in controlled or basis.startswith("registrant")
    parts += [edge_text(result), "" if shown else registered]
    parts.append(probe_failures(result))
    return f"{result.endpoint.display}: " + " · ".join(p for p in parts if p)
