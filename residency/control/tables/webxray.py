"""webXray's domain owners (``domain_owners.json``): owner, parent, country, domains.

A JSON list of ``{"id", "parent_id", "owner_name", "country", "domains": [...]}``; the
parent is another owner's id. GPL-3.0, from the webXray project (as republished by The
Markup's Blacklight)."""

from __future__ import annotations

from typing import IO, Any

from residency.control.sanitize import clean_country, clean_domain, clean_text
from residency.control.tables.interface import Collector, ParsedTable, stream, wrong_shape

TABLE = "webxray"
EXPECTED = 'a JSON list of owners {"owner_name", "domains", "parent_id", "country"}'


def parse_webxray(handle: IO[bytes], label: str) -> ParsedTable:
    collector = Collector(TABLE, label)
    names: dict[int, str] = {}
    parent_ids: dict[str, int] = {}
    seen = bad = 0
    for item in stream(handle, "item", label, kind="items"):
        seen += 1
        if not isinstance(item, dict):
            bad += 1
            continue
        name = clean_text(item.get("owner_name"))
        domains: Any = item.get("domains")
        if name is None or not isinstance(domains, list):
            bad += 1
            continue
        owner_id, parent_id = item.get("id"), item.get("parent_id")
        if isinstance(owner_id, int):
            names[owner_id] = name
        if isinstance(parent_id, int) and parent_id != owner_id:
            parent_ids[name] = parent_id
        collector.entity(name, clean_country(item.get("country")))
        for domain in domains:
            collector.add(name, clean_domain(domain))
    if seen == 0 or bad * 2 > seen:
        raise wrong_shape(label, EXPECTED)
    for child, parent_id in parent_ids.items():
        parent = names.get(parent_id)
        if parent is not None:
            collector.entity(child, parent=parent)
    notes = [f"{bad} owner entries without owner_name/domains were skipped"] if bad else []
    return collector.result(notes)
