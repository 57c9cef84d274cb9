"""Text for the controller and the CDN edge seen, shared by the text reports.

"SG · AWS (US) · controlled by Beijing Xiaomi Mobile Software Co., Ltd. (CN, OV certificate)"
"""

from __future__ import annotations

from residency.model import AuditResult, EndpointGroup, EndpointResult, Verdict
from residency.report.common import operator_text


def controller_text(result: EndpointResult) -> str:
    controller = result.controller
    if controller is None:
        return ""
    if controller.entity is None:
        if controller.why.startswith("controller unknown"):
            return controller.why
        return f"controller unknown ({controller.why})" if controller.why else "controller unknown"
    return f"controlled by {controller.chain_text()}"


def sovereign_text(result: EndpointResult) -> str:
    """ "on AWS European Sovereign Cloud (name ...): AWS European Sovereign Cloud GmbH (DE)
    → Amazon.com, Inc. (US) [...]", or "" when the endpoint is on no known offering."""
    cloud = result.sovereign
    if cloud is None:
        return ""
    return f"on {cloud.name}, operated by {cloud.chain_text()}"


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
    if result.controller is None and not result.probes and result.sovereign is None:
        return ""
    countries = dict.fromkeys(f.location.country or "unknown" for f in result.facts)
    operators = dict.fromkeys(operator_text(f) for f in result.facts)
    controlled = controller_text(result)
    registered = registrant_text(result)
    parts = [", ".join(countries) or "-", ", ".join(operators) or "-", controlled]
    # The registrant is shown once: in the controller's reasons when it is one of them.
    basis = result.controller.basis if result.controller else ""
    shown = registered in controlled or basis.startswith("registrant")
    parts += [sovereign_text(result), edge_text(result), "" if shown else registered]
    parts.append(probe_failures(result))
    stand_ins = dict.fromkeys(p.connected_to for p in result.probes if p.connected_to)
    if stand_ins:  # say so: what was seen is the stand-in's answer, not the address's
        parts.append(f"probed at {', '.join(stand_ins)} (--probe-connect-to)")
    return f"{result.endpoint.display}: " + " · ".join(p for p in parts if p)


def group_verdicts(result: AuditResult) -> dict[int, Verdict | None]:
    """The worst verdict of each group's members (None when nothing was judged), keyed by
    the group's index in ``result.groups``: one pass over the endpoints for all groups."""
    worst: dict[str, Verdict] = {}
    for endpoint in result.endpoints:
        if endpoint.verdict is not None:
            host, verdict = endpoint.endpoint.host, endpoint.verdict.verdict
            worst[host] = max(verdict, worst.get(host, verdict))
    out: dict[int, Verdict | None] = {}
    for index, group in enumerate(result.groups):
        judged = [worst[h] for h in group.hosts if h in worst]
        out[index] = max(judged) if judged else None
    return out


def group_text(group: EndpointGroup) -> str:
    """ "Beijing Xiaomi Mobile Software Co., Ltd. (CN): 4 endpoints, hosted in SG, IN"."""
    if group.name is None:
        what = "controller unknown" if group.by == "controller" else "no registrable domain"
        head = f"{what} ({group.why})" if group.why else what
    elif group.by == "controller":
        head = f"{group.name} ({group.country or '??'})"
    else:
        head = group.name
    count = len(group.hosts)
    text = f"{head}: {count} endpoint{'s' if count != 1 else ''}"
    placed = [c for c in group.hosted_in if c != "??"]
    if placed:
        text += ", hosted in " + ", ".join(placed)
    if "??" in group.hosted_in:
        text += ", some addresses unplaced" if placed else ", no address placed"
    elif not group.hosted_in:
        text += ", no address"
    return text


def groups_block(result: AuditResult, limit: int = 8) -> list[str]:
    """The short summary under the terminal table: by controller, then by domain (only when
    some domain is known: a list of IP literals or sandbox names groups into nothing)."""
    lines: list[str] = []
    if len(result.endpoints) < 2:
        return lines  # one endpoint: its row already says it all
    verdicts = group_verdicts(result)
    for by in ("controller", "domain"):
        groups = [(i, g) for i, g in enumerate(result.groups) if g.by == by]
        if not any(g.name is not None for _, g in groups):
            continue
        lines.append(f"by {by}:")
        for index, group in groups[:limit]:
            verdict = verdicts[index]
            lines.append(f"  {group_text(group)}" + (f" [{verdict.name}]" if verdict else ""))
        if len(groups) > limit:
            lines.append(f"  ... and {len(groups) - limit} more groups")
    return lines
