"""DuckDuckGo's tracker data sets: the web one (``extension-tds.json``: trackers with
their owner, entities with their domains, a domain -> entity map) and the Android one
(``android-tds.json``: trackers with their owner, app package names -> entity).
CC BY-NC-SA 4.0, DuckDuckGo, Inc."""

from __future__ import annotations

from typing import IO, Any

from residency.control.sanitize import clean_domain, clean_text
from residency.control.tables.interface import (
    MAX_DOMAINS,
    Collector,
    ParsedTable,
    stream,
    wrong_shape,
)

WEB = "ddg-web"
ANDROID = "ddg-android"


def _owner(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    owner = value.get("owner")
    return clean_text(owner.get("name")) if isinstance(owner, dict) else None


def _trackers(collector: Collector, handle: IO[bytes], label: str) -> tuple[int, int]:
    seen = bad = 0
    for domain, value in stream(handle, "trackers", label):
        seen += 1
        owner = _owner(value)
        if owner is None:
            bad += 1
            continue
        collector.entity(owner)
        collector.add(owner, clean_domain(domain))
    return seen, bad


def parse_ddg_web(handle: IO[bytes], label: str) -> ParsedTable:
    collector = Collector(WEB, label)
    seen, bad = _trackers(collector, handle, label)
    for key, value in stream(handle, "entities", label):
        name = clean_text(key)
        if name is None or not isinstance(value, dict):
            continue
        collector.entity(name)
        listed = value.get("domains")
        if isinstance(listed, list):
            for domain in listed:
                collector.add(name, clean_domain(domain))
    for domain, owner in stream(handle, "domains", label):
        name = clean_text(owner)
        if name is not None:
            collector.entity(name)
            collector.add(name, clean_domain(domain))
    if seen == 0 or bad * 2 > seen:
        raise wrong_shape(label, 'DuckDuckGo\'s web tds {"trackers", "entities", "domains"}')
    return collector.result([f"{bad} trackers without an owner skipped"] if bad else [])


def parse_ddg_android(handle: IO[bytes], label: str) -> ParsedTable:
    collector = Collector(ANDROID, label)
    seen, bad = _trackers(collector, handle, label)
    packages: dict[str, str] = {}
    for package, owner in stream(handle, "packageNames", label):
        name, app = clean_text(owner), clean_text(package, limit=255)
        if name is not None and app is not None and len(packages) < MAX_DOMAINS:
            packages[app] = name
    if seen == 0 or bad * 2 > seen:
        raise wrong_shape(label, 'DuckDuckGo\'s Android tds {"trackers", "packageNames"}')
    notes = [f"{bad} trackers without an owner skipped"] if bad else []
    return collector.result(notes, tuple(packages.items()))
