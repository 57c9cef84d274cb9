"""Entity tables built from the real snapshots in ../shared/data/entities (or small ones)."""

from __future__ import annotations

import json
from pathlib import Path

from residency.control.entities import EntityIndex, TableInfo, index_of, parse_files
from tests.support import shared

SNAPSHOTS = {
    "entities-webxray": (
        "webxray",
        "2019-12-18",
        [("domain_owners.json", "webxray-domain_owners_2019-12-18.json")],
    ),
    "entities-disconnect": (
        "disconnect",
        "2026-08-07",
        [
            ("entities.json", "disconnect-entities_2026-08-07.json"),
            ("services.json", "disconnect-services_2026-08-07.json"),
        ],
    ),
    "entities-ddg-web": (
        "duckduckgo-web",
        "2025-06-17",
        [("extension-tds.json", "ddg-web-tds-v6_2025-06-17.json")],
    ),
    "entities-ddg-android": (
        "duckduckgo-android",
        "2025-06-17",
        [("android-tds.json", "ddg-android-tds_2025-06-17.json")],
    ),
}


def real_index() -> EntityIndex:
    """Every real snapshot, parsed and compiled (skips without ../shared/data)."""
    tables = []
    for dataset, (table, version, files) in SNAPSHOTS.items():
        info = TableInfo(dataset, table, version)
        for parsed in parse_files(
            dataset, [(stored, shared("entities", name)) for stored, name in files]
        ):
            tables.append((info, parsed))
    return index_of(tables)


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def small_index(
    tmp_path: Path, webxray: list[dict[str, object]], disconnect: dict[str, object]
) -> EntityIndex:
    """An index of one small webXray table and one small Disconnect table."""
    owners = write_json(tmp_path / "owners.json", webxray)
    entities = write_json(tmp_path / "entities.json", {"license": "test", "entities": disconnect})
    return index_of(
        [
            (TableInfo("entities-webxray", "webxray", "2019-12-18"), p)
            for p in parse_files("entities-webxray", [("domain_owners.json", owners)])
        ]
        + [
            (TableInfo("entities-disconnect", "disconnect", "2026-08-07"), p)
            for p in parse_files("entities-disconnect", [("entities.json", entities)])
        ]
    )
