"""Group an audit's endpoints by controller and by registrable domain.

A list of 40 endpoints reads better as "Xiaomi (CN): 4 endpoints, hosted in SG, IN; Google
(US): 2 endpoints". Groups are derived from the results alone (no verdicts), so judging an
audit again keeps them valid; reports take a group's verdict from its members.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from residency.endpoints.domain import registrable_domain
from residency.model import EndpointGroup, EndpointResult

NO_PROBE = "no probe ran and no [controllers.known] entry names it"
IP_LITERAL = "an IP address: no domain"
NO_SUFFIX = "not under a known public suffix"

_Key = tuple[str | None, str | None, str]  # (name, country, why)


def _controller_key(result: EndpointResult) -> _Key:
    controller = result.controller
    if controller is None:
        return None, None, NO_PROBE
    if controller.entity is None:
        return None, None, controller.why or "no evidence"
    return controller.entity, controller.country, ""


def _domain_key(result: EndpointResult) -> _Key:
    if result.endpoint.is_ip:
        return None, None, IP_LITERAL
    domain = registrable_domain(result.endpoint.host)
    return (domain, None, "") if domain else (None, None, NO_SUFFIX)


def _hosted_in(members: Sequence[EndpointResult]) -> tuple[str, ...]:
    countries = Counter(f.location.country or "??" for m in members for f in m.facts)
    placed = [c for c, _ in countries.most_common() if c != "??"]
    return (*placed, "??") if "??" in countries else tuple(placed)


def _grouped(
    by: str, results: Sequence[EndpointResult], key_of: Callable[[EndpointResult], _Key]
) -> list[EndpointGroup]:
    members: dict[_Key, list[EndpointResult]] = {}
    for result in results:
        members.setdefault(key_of(result), []).append(result)
    unknown: list[EndpointResult] = []
    known: list[EndpointGroup] = []
    for (name, country, _why), group in members.items():
        if name is None:
            unknown.extend(group)
            continue
        known.append(
            EndpointGroup(
                by, name, country, tuple(m.endpoint.host for m in group), _hosted_in(group)
            )
        )
    known.sort(key=lambda g: (-len(g.hosts), g.name or ""))
    if unknown:
        # One "unknown" group; its why lists the distinct reasons, most common first.
        whys: Counter[str] = Counter()
        for (name, _country, why), group in members.items():
            if name is None:
                whys[why] += len(group)
        why = "; ".join(w for w, _ in whys.most_common(3))
        if len(whys) > 3:
            why += "; ..."
        hosts = tuple(m.endpoint.host for m in unknown)
        known.append(EndpointGroup(by, None, None, hosts, _hosted_in(unknown), why))
    return known


def endpoint_groups(results: Sequence[EndpointResult]) -> tuple[EndpointGroup, ...]:
    """Groups by controller (only when some endpoint has a controller: probes ran or a
    ``[controllers.known]`` table applied), then by registrable domain; biggest first,
    the unknown group last."""
    out: list[EndpointGroup] = []
    if any(r.controller is not None for r in results):
        out += _grouped("controller", results, _controller_key)
    out += _grouped("domain", results, _domain_key)
    return tuple(out)
