"""Fastly's ``public-ip-list`` JSON (``addresses`` and ``ipv6_addresses``): anycast CDN edges."""

from __future__ import annotations

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers._common import (
    NetworkNormaliser,
    content_version,
    finish,
    load_json,
    require_list,
    require_mapping,
)

DATASET = "fastly-ip-list"
PROVIDER = "fastly"


def parse(data: bytes) -> ParsedFeed:
    doc = require_mapping(DATASET, load_json(DATASET, data))
    v4 = require_list(DATASET, doc, "addresses")
    v6 = doc.get("ipv6_addresses", [])
    if not isinstance(v6, list):
        raise FeedInvalid(f"{DATASET}: 'ipv6_addresses' should be a list")
    normalise = NetworkNormaliser()
    networks = dict.fromkeys(n for n in map(normalise, [*v4, *v6]) if n is not None)
    records = (
        RangeRecord(
            network=n, provider=PROVIDER, region=None, service="CDN", place=None, anycast=True
        )
        for n in networks
    )
    return finish(DATASET, content_version(data), records, normalise.notes())
