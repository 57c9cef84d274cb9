"""Oracle Cloud ``public_ip_ranges.json``: regions, each with CIDRs and tags (OCI, OSN...)."""

from __future__ import annotations

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers._common import (
    NetworkNormaliser,
    finish,
    load_json,
    require_list,
    require_mapping,
)

DATASET = "oracle-ip-ranges"
PROVIDER = "oracle"


def parse(data: bytes) -> ParsedFeed:
    doc = require_mapping(DATASET, load_json(DATASET, data))
    regions = require_list(DATASET, doc, "regions")
    version = doc.get("last_updated_timestamp")
    if not isinstance(version, str) or not version:
        raise FeedInvalid(f"{DATASET}: missing 'last_updated_timestamp'")
    normalise = NetworkNormaliser()
    found: dict[tuple[str, str], RangeRecord] = {}
    for block in regions:
        if not isinstance(block, dict) or not isinstance(block.get("region"), str):
            raise FeedInvalid(f"{DATASET}: a region entry has no 'region' name: {block!r:.80}")
        region = block["region"]
        for entry in require_list(DATASET, block, "cidrs", f" of region {region}"):
            if not isinstance(entry, dict):
                raise FeedInvalid(f"{DATASET}: a cidr entry in {region} is not an object")
            network = normalise(entry.get("cidr"))
            if network is None:
                continue
            tags = entry.get("tags")
            service = "+".join(str(t) for t in tags) if isinstance(tags, list) and tags else None
            found.setdefault(
                (network, region),
                RangeRecord(
                    network=network, provider=PROVIDER, region=region, service=service, place=None
                ),
            )
    return finish(DATASET, version, found.values(), normalise.notes())
