"""Parsers of the public domain-owner tables, one module per format, and their registry.

Each parser streams one file (``ijson``: memory bounded by one entry, not the file) and
returns a ``ParsedTable``; a file of the wrong shape raises ``FeedInvalid`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from residency.control.tables.disconnect import (
    parse_disconnect_entities,
    parse_disconnect_services,
)
from residency.control.tables.duckduckgo import parse_ddg_android, parse_ddg_web
from residency.control.tables.interface import EntityRecord, ParsedTable
from residency.control.tables.webxray import parse_webxray

TableParser = Callable[[IO[bytes], str], ParsedTable]

#: (dataset id, stored file name) -> the parser of that file.
PARSERS: dict[tuple[str, str], TableParser] = {
    ("entities-webxray", "domain_owners.json"): parse_webxray,
    ("entities-disconnect", "entities.json"): parse_disconnect_entities,
    ("entities-disconnect", "services.json"): parse_disconnect_services,
    ("entities-ddg-web", "extension-tds.json"): parse_ddg_web,
    ("entities-ddg-android", "android-tds.json"): parse_ddg_android,
}

#: dataset id -> the table name used in evidence ("entity-list disconnect 2026-08-07").
TABLE_NAMES: dict[str, str] = {
    "entities-webxray": "webxray",
    "entities-disconnect": "disconnect",
    "entities-ddg-web": "duckduckgo-web",
    "entities-ddg-android": "duckduckgo-android",
}

__all__ = ["PARSERS", "TABLE_NAMES", "EntityRecord", "ParsedTable", "TableParser"]
