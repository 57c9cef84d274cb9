"""The JSON report: versioned (``"schema": "residency-report/1"``), stable field names.

The shape is documented by ``docs/report-schema.json``. Fields are only ever added
within version 1; renaming or removing one means ``residency-report/2``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import orjson

from residency.model import (
    AuditResult,
    Controller,
    DataVersion,
    EndpointGroup,
    EndpointResult,
    Evidence,
    IpFacts,
    ObservedAddress,
    OwnerLink,
    ProbeResult,
    Reason,
    Resolution,
    Verdict,
)
from residency.report.common import (
    DBIP_ATTRIBUTION,
    DBIP_URL,
    address_seen,
    address_verdicts,
    counts,
    is_warning,
    label,
    observation_mismatch,
    uses_dbip,
    vantage_comparison,
)
from residency.report.controller_text import group_text, group_verdicts
from residency.textsafe import json_ascii, scrub

SCHEMA_ID = "residency-report/1"


def reason_dict(reason: Reason) -> dict[str, Any]:
    return {
        "code": reason.code,
        "message": reason.message,
        "rule": reason.rule,
        "evidence": list(reason.evidence),
        "warning": is_warning(reason),
    }


def evidence_dict(evidence: Evidence) -> dict[str, Any]:
    place = evidence.place
    return {
        "source": evidence.source,
        "kind": evidence.kind.value,
        "version": evidence.version,
        "prefix": evidence.prefix,
        "country": place.country if place else None,
        "subdivision": place.subdivision if place else None,
        "city": place.city if place else None,
        "provider": evidence.provider,
        "region": evidence.region,
        "service": evidence.service,
        "asn": evidence.asn,
        "org": evidence.org,
        "anycast": evidence.anycast,
        "note": evidence.note,
        "summary": evidence.summary(),
    }


def resolution_dict(resolution: Resolution) -> dict[str, Any]:
    return {
        "name": resolution.name,
        "outcome": resolution.outcome.value,
        "resolver": resolution.resolver,
        "vantage": resolution.vantage,
        "ecs_prefix": resolution.ecs_prefix,
        "ecs_scope": resolution.ecs_scope,
        "error": resolution.error,
        "when": resolution.when,
        "chain": [
            {"owner": s.owner, "rtype": s.rtype, "target": s.target, "ttl": s.ttl}
            for s in resolution.chain
        ],
        "addresses": [{"ip": a.ip, "ttl": a.ttl, "via": a.via} for a in resolution.addresses],
    }


def address_dict(facts: IpFacts, result: EndpointResult) -> dict[str, Any]:
    judged = address_verdicts(result).get(facts.ip)
    place = facts.location.place
    operator = facts.operator
    registration = facts.registration
    return {
        "ip": facts.ip,
        "seen": address_seen(facts.ip, result),
        "routable": facts.routable,
        "not_routable_reason": facts.not_routable_reason,
        "location": {
            "country": place.country if place else None,
            "subdivision": place.subdivision if place else None,
            "city": place.city if place else None,
            "confidence": facts.location.confidence.value,
            "basis": facts.location.basis,
            "why": facts.location.why,
        },
        "asn": facts.asn,
        "as_org": facts.as_org,
        "provider": facts.provider,
        "region": facts.region,
        "service": facts.service,
        "cdn": facts.cdn,
        "anycast": facts.anycast,
        "anycast_basis": facts.anycast_basis or None,
        "cdn_edge": None
        if facts.cdn_edge is None
        else {"vendor": facts.cdn_edge.vendor, "basis": facts.cdn_edge.basis},
        "disagreements": list(facts.disagreements),
        "evidence": [evidence_dict(e) for e in facts.evidence],
        "operator": None
        if operator is None
        else {
            "provider": operator.provider,
            "entity": operator.entity,
            "jurisdiction": operator.jurisdiction,
            "parent": operator.parent,
            "basis": operator.basis,
        },
        "registration": None
        if registration is None
        else {
            "status": registration.status,
            "reason": registration.reason,
            "network_name": registration.network_name,
            "handle": registration.handle,
            "cidr": registration.cidr,
            "org": registration.org,
            "country": registration.country,
            "rir": registration.rir,
            "abuse_email": registration.abuse_email,
            "source": registration.source,
            "fetched": registration.fetched,
        },
        "verdict": judged.verdict.name if judged else None,
        "aspect": judged.aspect if judged else None,
        "reasons": [reason_dict(r) for r in judged.reasons] if judged else [],
    }


def observed_json(seen: ObservedAddress) -> dict[str, Any]:
    """An observed address; where a crawl or a phone capture saw it, only when it did."""
    found: dict[str, Any] = {"ip": seen.ip, "when": seen.when, "context": seen.context}
    for key in ("page", "page_title", "phase", "party", "initiator"):
        if getattr(seen, key):
            found[key] = getattr(seen, key)
    if seen.apps:
        found["apps"] = list(seen.apps)
    return found


def endpoint_dict(
    result: EndpointResult, controller_json: Callable[[Controller | None], Any] | None = None
) -> dict[str, Any]:
    """``controller_json``: how the controller is written (``controller_dict`` unless the
    report gives its own)."""
    endpoint = result.endpoint
    return {
        "host": endpoint.host,
        "display": endpoint.display,
        "origin": endpoint.origin,
        "is_ip": endpoint.is_ip,
        "categories": list(endpoint.categories),
        "observed": [observed_json(o) for o in endpoint.observed],
        "observation_mismatch": observation_mismatch(result),
        "vantage_comparison": vantage_comparison(result),
        "verdict": result.verdict.verdict.name if result.verdict else None,
        "reasons": [reason_dict(r) for r in result.verdict.reasons] if result.verdict else [],
        "resolutions": [resolution_dict(r) for r in result.resolutions],
        "hints": [evidence_dict(e) for e in result.hints],
        "addresses": [address_dict(f, result) for f in result.facts],
        "probes": [probe_dict(p) for p in result.probes],
        "controller": (controller_json or controller_dict)(result.controller),
        "registrant": None if result.registrant is None else asdict(result.registrant),
        "sovereign_cloud": None
        if result.sovereign is None
        else {
            "offering": result.sovereign.offering,
            "name": result.sovereign.name,
            "entity": result.sovereign.entity,
            "country": result.sovereign.country,
            "basis": result.sovereign.basis,
            "source": result.sovereign.source,
            "parents": [_link_dict(link) for link in result.sovereign.parents],
            "text": result.sovereign.chain_text(),
        },
    }


def probe_dict(probe: ProbeResult) -> dict[str, Any]:
    cert = probe.cert
    place = probe.edge_place
    return {
        "kind": probe.kind,
        "ip": probe.ip,
        "port": probe.port,
        "outcome": probe.outcome,
        "detail": probe.detail,
        "when": probe.when,
        "vantage": probe.vantage,
        "connected_to": probe.connected_to,
        "tls_version": probe.tls_version,
        "verified": probe.verified,
        "verify_error": probe.verify_error,
        "certificate": None if cert is None else asdict(cert) | {"san": list(cert.san)},
        "status": probe.status,
        "headers": dict(probe.headers),
        "rtt_ms": probe.rtt_ms,
        "edge": None
        if probe.edge_cdn is None
        else {
            "cdn": probe.edge_cdn,
            "pop": probe.edge_pop,
            "place": None if place is None else {"country": place.country, "city": place.city},
            "basis": probe.edge_basis,
        },
    }


#: Controllers decided from the domain tables are shared by every host under one domain:
#: their JSON is built once per object (the object is kept with it, so its id stays its own).
_CONTROLLER_JSON: dict[int, tuple[Controller, dict[str, Any]]] = {}


def _link_dict(link: OwnerLink) -> dict[str, Any]:
    return {"entity": link.entity, "country": link.country, "source": link.source, "lei": link.lei}


def controller_dict(controller: Controller | None) -> dict[str, Any] | None:
    if controller is None:
        return None
    known = _CONTROLLER_JSON.get(id(controller))
    if known is not None and known[0] is controller:
        return known[1]
    ultimate = controller.ultimate
    found = {
        "entity": controller.entity,
        "country": controller.country,
        "basis": controller.basis,
        "confidence": controller.confidence.value,
        "why": controller.why,
        # each step above the entity with its own source; the ultimate parent last
        "parents": [_link_dict(link) for link in controller.parents],
        "parent_unknown": controller.parent_unknown or None,
        "ultimate_parent": None if ultimate is None else _link_dict(ultimate),
        "sources": list(controller.sources),
        "disagreements": list(controller.disagreements),
        "hosted_by": controller.hosted_by,
        "dpf": controller.dpf or None,
        "text": controller.chain_text(),
    }
    if len(_CONTROLLER_JSON) >= 4096:
        _CONTROLLER_JSON.clear()
    _CONTROLLER_JSON[id(controller)] = (controller, found)
    return found


# The controllers' and the groups' JSON is written as ASCII (``\\u00f3`` for "ó", ``\\u2192``
# for the chain's arrow): the same JSON to any reader. An organisation's name or a chain's
# arrow would otherwise make Python hold the whole report as a string of 2 bytes a
# character: decoding it and each copy cost about three times an ASCII report's
# (bench/control.md). Each fragment is indented where it sits in the report.
_UNDER_ENDPOINT = b"\n" + b" " * 6  # "endpoints" -> list -> object: fields 6 spaces in
_UNDER_TOP = b"\n  "
#: The report's JSON of each Controller object (shared by the endpoints it controls).
_CONTROLLER_FRAGMENTS: dict[int, tuple[Controller, orjson.Fragment]] = {}


def _ascii_fragment(value: Any, indent: bytes) -> orjson.Fragment:
    """``value``'s JSON as ASCII, its lines indented by ``indent`` (after the first)."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    except TypeError:  # an unpaired surrogate (orjson writes only valid UTF-8)
        text = orjson.dumps(scrub(value), option=orjson.OPT_INDENT_2)
    return orjson.Fragment(json_ascii(text).replace(b"\n", indent))


def controller_fragment(controller: Controller | None) -> orjson.Fragment | None:
    """The controller's JSON in the report, serialised once per object: the endpoints
    under one listed domain share it."""
    if controller is None:
        return None
    known = _CONTROLLER_FRAGMENTS.get(id(controller))
    if known is not None and known[0] is controller:
        return known[1]
    fragment = _ascii_fragment(controller_dict(controller), _UNDER_ENDPOINT)
    if len(_CONTROLLER_FRAGMENTS) >= 4096:
        _CONTROLLER_FRAGMENTS.clear()
    _CONTROLLER_FRAGMENTS[id(controller)] = (controller, fragment)
    return fragment


def data_version_dict(version: DataVersion) -> dict[str, Any]:
    return {
        "dataset": version.dataset,
        "version": version.version,
        "fetched": version.fetched,
        "sha256": version.sha256,
        "origin": version.origin,
        "licence": version.licence,
        "attribution": version.attribution,
    }


def report_dict(
    result: AuditResult, controller_json: Callable[[Controller | None], Any] | None = None
) -> dict[str, Any]:
    tally = counts(result)
    verdicts = group_verdicts(result)
    policy = result.policy
    attributions = [f"{DBIP_ATTRIBUTION} {DBIP_URL}"] if uses_dbip(result) else []
    attributions += sorted(
        {v.attribution for v in result.data_versions if v.attribution} - set(attributions)
    )
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "residency", "version": result.tool_version},
        "run": {
            "id": result.run_id,
            "started": result.started,
            "finished": result.finished,
            "resolvers": list(result.resolvers),
            "vantages": list(result.vantages),
            "notes": list(result.notes),
        },
        "policy": None
        if policy is None
        else {
            "name": policy.name,
            "version": policy.version,
            "path": policy.path,
            "sha256": policy.sha256,
        },
        "verdict": result.verdict.name if result.verdict is not None else None,
        "summary": {
            "endpoints": tally.endpoints,
            "addresses": tally.addresses,
            "verdicts": tally.by_verdict,
            "countries": tally.countries,
            "overall": label(result.verdict) if result.policy else None,
        },
        "data_versions": [data_version_dict(v) for v in result.data_versions],
        "attributions": attributions,
        "problems": [
            {"entry": p.entry, "origin": p.origin, "problem": p.problem} for p in result.problems
        ],
        "groups": [group_dict(g, verdicts[i]) for i, g in enumerate(result.groups)],
        "endpoints": [endpoint_dict(e, controller_json) for e in result.endpoints],
    }


def group_dict(group: EndpointGroup, verdict: Verdict | None) -> dict[str, Any]:
    return {
        "by": group.by,
        "name": group.name,
        "country": group.country,
        "endpoints": list(group.hosts),
        "hosted_in": list(group.hosted_in),
        "why": group.why,
        "verdict": verdict.name if verdict is not None else None,
        "text": group_text(group),
    }


class JsonFormatter:
    def render(self, result: AuditResult) -> str:
        # orjson writes the same indented UTF-8 JSON at C speed: the standard library's
        # encoder falls back to pure Python when indenting, which dominated large audits
        document = report_dict(result, controller_fragment)
        if any(group.by == "controller" for group in result.groups):
            document["groups"] = _ascii_fragment(document["groups"], _UNDER_TOP)
        try:
            text = orjson.dumps(document, option=orjson.OPT_INDENT_2)
        except TypeError:  # an unpaired surrogate (orjson writes only valid UTF-8)
            text = orjson.dumps(scrub(document), option=orjson.OPT_INDENT_2)
        return text.decode() + "\n"
