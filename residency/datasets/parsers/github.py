"""GitHub's ``meta`` API document: lists of networks per service (hooks, web, api, actions...).

GitHub gives no version and no location. The service is the key a network is
listed under; a network listed under several keys is kept once, naming all of
them in document order (``hooks+web+api+git``), so every network has exactly
one record. Non-network entries (domains, SSH keys, flags) are ignored by
shape, so new keys need no code change.
"""

from __future__ import annotations

import ipaddress

from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers._common import (
    NetworkNormaliser,
    content_version,
    finish,
    load_json,
    require_mapping,
)

DATASET = "github-meta"
PROVIDER = "github"


def parse(data: bytes) -> ParsedFeed:
    doc = require_mapping(DATASET, load_json(DATASET, data))
    normalise = NetworkNormaliser()
    services: dict[str, list[str]] = {}
    skipped_keys: list[str] = []
    for key, value in doc.items():
        if not isinstance(value, list) or not value or not _looks_like_networks(value):
            if isinstance(value, list) and value:
                skipped_keys.append(key)
            continue
        for text in value:
            network = normalise(text)
            if network is not None:
                listed = services.setdefault(network, [])
                if key not in listed:
                    listed.append(key)
    records = [
        RangeRecord(
            network=network, provider=PROVIDER, region=None, service="+".join(keys), place=None
        )
        for network, keys in services.items()
    ]
    notes = list(normalise.notes())
    if skipped_keys:
        notes.append("ignored non-network lists: " + ", ".join(skipped_keys))
    return finish(DATASET, content_version(data), records, notes)


def _looks_like_networks(values: list[object]) -> bool:
    first = values[0]
    if not isinstance(first, str):
        return False
    try:
        ipaddress.ip_network(first, strict=False)
    except ValueError:
        return False
    return True
