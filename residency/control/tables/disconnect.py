"""Disconnect's tracking-protection lists: ``entities.json`` (organisation -> properties
and resources) and ``services.json`` (category -> organisation -> URL -> domains).
CC BY-NC-SA 4.0, Disconnect, Inc."""

from __future__ import annotations

from typing import IO

from residency.control.sanitize import clean_domain, clean_text
from residency.control.tables.interface import Collector, ParsedTable, stream, wrong_shape

TABLE = "disconnect"


def parse_disconnect_entities(handle: IO[bytes], label: str) -> ParsedTable:
    collector = Collector(TABLE, label)
    seen = bad = 0
    for key, value in stream(handle, "entities", label):
        seen += 1
        name = clean_text(key)
        if name is None or not isinstance(value, dict):
            bad += 1
            continue
        collector.entity(name)
        for field in ("properties", "resources"):
            listed = value.get(field)
            if isinstance(listed, list):
                for domain in listed:
                    collector.add(name, clean_domain(domain))
    if seen == 0 or bad * 2 > seen:
        raise wrong_shape(label, 'an object {"entities": {name: {"properties", "resources"}}}')
    return collector.result([f"{bad} malformed entities skipped"] if bad else [])


def parse_disconnect_services(handle: IO[bytes], label: str) -> ParsedTable:
    collector = Collector(TABLE, label)
    seen = bad = 0
    for _category, services in stream(handle, "categories", label):
        if not isinstance(services, list):
            bad += 1
            continue
        for service in services:
            seen += 1
            if not isinstance(service, dict) or len(service) != 1:
                bad += 1
                continue
            ((key, urls),) = service.items()
            name = clean_text(key)
            if name is None or not isinstance(urls, dict):
                bad += 1
                continue
            collector.entity(name)
            for domains in urls.values():
                if isinstance(domains, list):  # other keys ("performance": "true") are flags
                    for domain in domains:
                        collector.add(name, clean_domain(domain))
    if seen == 0 or bad * 2 > seen:
        raise wrong_shape(label, 'an object {"categories": {category: [{name: {url: [domains]}}]}}')
    return collector.result([f"{bad} malformed services skipped"] if bad else [])
