"""Google Cloud ``cloud.json`` (prefixes with a ``scope`` region) and Google's ``goog.json``.

``scope`` becomes the record's region. Scope ``global`` holds the global
(anycast) load-balancer addresses: flagged anycast, and never given a place.
``goog.json`` lists every Google network without region or service.
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
GOOG_DATASET = "google-goog"
GLOBAL_SCOPE = "global"


def parse(data: bytes) -> ParsedFeed:
    """``cloud.json``: provider ``gcp``, region from ``scope``."""
    doc, prefixes = _open(CLOUD_DATASET, data)
    normalise = NetworkNormaliser()
    seen: dict[tuple[str, str | None], RangeRecord] = {}
    for entry in prefixes:
        network = normalise(_prefix(CLOUD_DATASET, entry))
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
    return finish(CLOUD_DATASET, _version(CLOUD_DATASET, doc), seen.values(), normalise.notes())


def parse_goog(data: bytes) -> ParsedFeed:
    """``goog.json``: every Google network, provider ``google``, no region."""
    doc, prefixes = _open(GOOG_DATASET, data)
    normalise = NetworkNormaliser()
    networks = dict.fromkeys(
        n for n in (normalise(_prefix(GOOG_DATASET, e)) for e in prefixes) if n is not None
    )
    records = (
        RangeRecord(network=n, provider="google", region=None, service=None, place=None)
        for n in networks
    )
    return finish(GOOG_DATASET, _version(GOOG_DATASET, doc), records, normalise.notes())


def _open(dataset: str, data: bytes) -> tuple[Any, list[Any]]:
    doc = require_mapping(dataset, load_json(dataset, data))
    return doc, require_list(dataset, doc, "prefixes")


def _prefix(dataset: str, entry: Any) -> Any:
    if isinstance(entry, dict):
        for key in ("ipv4Prefix", "ipv6Prefix"):
            if key in entry:
                return entry[key]
    raise FeedInvalid(f"{dataset}: an entry has neither ipv4Prefix nor ipv6Prefix: {entry!r:.80}")


def _version(dataset: str, doc: Any) -> str:
    created = doc.get("creationTime")
    token = doc.get("syncToken")
    if not created and not token:
        raise FeedInvalid(f"{dataset}: missing 'creationTime' and 'syncToken'")
    if created and token:
        return f"{created} (syncToken {token})"
    return str(created or token)
