"""The output of ``residency ip``: text for people, JSON, and the TSV rows of ``--bulk``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from residency.model import BULK_COLUMNS, DataVersion, IpFacts
from residency.textsafe import terminal

#: The longest line shown for an address (organisations and RDAP text are untrusted).
LINE_LIMIT = 1000


def facts_to_json(facts: IpFacts) -> dict[str, Any]:
    """A plain-JSON view of IpFacts (one entry of ``residency ip --json``)."""
    import orjson

    # orjson serialises nested frozen dataclasses and enums natively, without the
    # asdict deep copy; str covers any stray non-JSON value as the old path did.
    return orjson.loads(orjson.dumps(facts, default=str))  # type: ignore[no-any-return]


def ip_json(answers: Sequence[IpFacts], versions: Sequence[DataVersion]) -> str:
    """The ``--json`` document: every answer and the datasets that gave it."""
    doc = {
        "addresses": [facts_to_json(f) for f in answers],
        "data_versions": [asdict(v) for v in versions],
    }
    return json.dumps(doc, indent=2)


def ip_text(answers: Sequence[IpFacts], versions: Sequence[DataVersion]) -> str:
    """The text for people: a block per address, then the data versions and attribution."""
    lines = [render_ip_facts(facts) for facts in answers]
    if answers:
        lines.append(
            terminal("data: " + ", ".join(f"{v.dataset} {v.version}" for v in versions), LINE_LIMIT)
        )
        attribution = sorted({v.attribution for v in versions if v.attribution})
        lines.extend(terminal(f"attribution: {line}") for line in attribution)
    return "\n".join(lines)


def tsv_header() -> str:
    """The first line of ``--bulk`` output."""
    return "\t".join(BULK_COLUMNS)


def tsv_row(row: Sequence[str]) -> str:
    """One ``--bulk`` row (values in ``BULK_COLUMNS`` order, already text)."""
    return "\t".join(row)


def render_ip_facts(facts: IpFacts) -> str:
    """A short block per address: location, provider, network, operator, evidence."""
    lines = [facts.ip]
    loc = facts.location
    if not facts.routable:
        lines.append(f"  location    not publicly routable: {facts.not_routable_reason}")
        return _shown(lines)
    if loc.place is None:
        where = "INDETERMINATE"
    else:
        where = loc.place.country
        extra = ", ".join(p for p in (loc.place.subdivision, loc.place.city) if p)
        if extra:
            where += f" ({extra})"
    lines.append(f"  location    {where}  [confidence {loc.confidence}, {loc.basis}] {loc.why}")
    if facts.provider:
        prov = facts.provider + (f" {facts.region}" if facts.region else "")
        if facts.service:
            prov += f" ({facts.service})"
        lines.append(f"  provider    {prov}")
    else:
        lines.append("  provider    unknown (no provider feed covers it)")
    if facts.asn is not None:
        lines.append(f"  network     AS{facts.asn} {facts.as_org or ''}".rstrip())
    lines.append(f"  edge        {edge_text(facts)}")
    if facts.operator and facts.operator.provider:
        op = facts.operator
        lines.append(
            f"  operator    {op.entity or op.provider}"
            + (f", jurisdiction {op.jurisdiction}" if op.jurisdiction else "")
            + (f" [{op.basis}]" if op.basis else "")
        )
    if facts.registration is not None:
        reg = facts.registration
        if reg.status == "known":
            # Only the parts RDAP gave: a missing RIR or CIDR is left out, never "None".
            where = ", ".join(part for part in (reg.rir, reg.cidr) if part)
            lines.append(
                f"  registered  {reg.org or reg.network_name or 'unnamed holder'}"
                + (f", {reg.country}" if reg.country else "")
                + (f" ({where})" if where else "")
            )
        else:
            lines.append(f"  registered  unknown ({reg.reason})")
    lines.append("  evidence")
    for ev in facts.evidence:
        prefix = f" [{ev.prefix}]" if ev.prefix else ""
        lines.append(f"    - {ev.summary()}{prefix} (version {ev.version})")
    for d in facts.disagreements:
        lines.append(f"  DISAGREE    {d}")
    return _shown(lines)


def _shown(lines: Sequence[str]) -> str:
    """The block's lines, each made safe for a terminal (no escape sequence, no line break)."""
    return "\n".join(terminal(line, LINE_LIMIT) for line in lines)


def edge_text(facts: IpFacts) -> str:
    """Anycast (served from many places) and CDN edge (one place, chosen by DNS), each
    with how we know, e.g. "anycast (measured, bgptools-anycast [1.1.1.0/24]); CDN of
    cloudflare (asn AS13335)"."""
    parts: list[str] = []
    if facts.anycast:
        parts.append(f"anycast ({facts.anycast_basis})" if facts.anycast_basis else "anycast")
    edge = facts.cdn_edge
    if edge is not None:
        what = "CDN" if facts.anycast else "unicast CDN edge"
        parts.append(f"{what} of {edge.vendor} ({edge.basis})")
    elif facts.cdn:
        parts.append("CDN edge")
    if not parts:
        return "no (unicast, not a CDN edge)"
    return "; ".join(parts)
