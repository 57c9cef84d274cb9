"""Google Cloud ``cloud.json``: prefixes with a ``scope`` region (Google's ``goog.json``
is in ``google.py``).

``scope`` becomes the record's region. Scope ``global`` holds the global
(anycast) load-balancer addresses: flagged anycast, and never given a place.
"""

from __future__ import annotations

from typing import Any

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers._common import (
    NetworkNormaliser,
    finish,
    load_json,
    require_list,
    require_mapping,
)

CLOUD_DATASET = "gcp-cloud"
GLOBAL_SCOPE = "global"


def parse(data: bytes) -> ParsedFeed:
    """``cloud.json``: provider ``gcp``, region from ``scope``."""
    doc, prefixes = open_prefixes(CLOUD_DATASET, data)
    normalise = NetworkNormaliser()
    seen: dict[tuple[str, str | None], RangeRecord] = {}
    for entry in prefixes:
        network = normalise(prefix_of(CLOUD_DATASET, entry))
        if network is None:
            continue
        scope = entry.get("scope")
        region = scope if isinstance(scope, str) and scope else None
        service = entry.get("service")
        seen.setdefault(
            (network, region),
            RangeRecord(
                network=network,
                provider="gcp",
                region=region,
                service=service if isinstance(service, str) and service else None,
                place=None,
                anycast=region == GLOBAL_SCOPE,
            ),
        )
    return finish(CLOUD_DATASET, version_of(CLOUD_DATASET, doc), seen.values(), normalise.notes())


def open_prefixes(dataset: str, data: bytes) -> tuple[Any, list[Any]]:
    doc = require_mapping(dataset, load_json(dataset, data))
    return doc, require_list(dataset, doc, "prefixes")


def prefix_of(dataset: str, entry: Any) -> Any:
    if isinstance(entry, dict):
        for key in ("ipv4Prefix", "ipv6Prefix"):
            if key in entry:
                return entry[key]
    raise FeedInvalid(f"{dataset}: an entry has neither ipv4Prefix nor ipv6Prefix: {entry!r:.80}")


def version_of(dataset: str, doc: Any) -> str:
    created = doc.get("creationTime")
    token = doc.get("syncToken")
    if not created and not token:
        raise FeedInvalid(f"{dataset}: missing 'creationTime' and 'syncToken'")
    if created and token:
        return f"{created} (syncToken {token})"
    return str(created or token)
