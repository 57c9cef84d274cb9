"""Cloudflare's ``ips-v4`` / ``ips-v6`` lists (one CIDR a line) or its ``/ips`` API JSON.

Cloudflare publishes no location: every address is an anycast edge.
"""

from __future__ import annotations

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers._common import (
    NetworkNormaliser,
    content_version,
    decode_text,
    finish,
    load_json,
    require_mapping,
)

DATASET = "cloudflare-ips"
PROVIDER = "cloudflare"


def parse(data: bytes) -> ParsedFeed:
    text = decode_text(DATASET, data)
    if text.lstrip().startswith("{"):
        return _parse_api(data)
    networks = parse_cidr_lines(DATASET, text)
    return finish(DATASET, content_version(data), (_record(n) for n in networks))


def parse_cidr_lines(dataset: str, text: str) -> list[str]:
    """A plain list of CIDRs; blank lines and ``#`` comments allowed, anything else is an error.

    Strict on purpose: a list that is really an HTML error page must not pass.
    """
    normalise = NetworkNormaliser()
    networks: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        network = normalise(line)
        if network is None:
            raise FeedInvalid(f"{dataset}: line {number} is not an IP network: {line[:60]!r}")
        networks.append(network)
    return list(dict.fromkeys(networks))


def _parse_api(data: bytes) -> ParsedFeed:
    doc = require_mapping(DATASET, load_json(DATASET, data))
    result = doc.get("result", doc)
    if not isinstance(result, dict):
        raise FeedInvalid(f"{DATASET}: 'result' should be an object")
    normalise = NetworkNormaliser()
    networks: list[str] = []
    for key in ("ipv4_cidrs", "ipv6_cidrs"):
        values = result.get(key, [])
        if not isinstance(values, list):
            raise FeedInvalid(f"{DATASET}: {key!r} should be a list")
        networks.extend(n for n in map(normalise, values) if n is not None)
    etag = result.get("etag")
    version = f"etag {etag}" if isinstance(etag, str) and etag else content_version(data)
    records = (_record(n) for n in dict.fromkeys(networks))
    return finish(DATASET, version, records, normalise.notes())


def _record(network: str) -> RangeRecord:
    return RangeRecord(
        network=network, provider=PROVIDER, region=None, service="CDN", place=None, anycast=True
    )
