"""Azure Service Tags (``ServiceTags_Public_*.json``): tags with region and address prefixes.

Every regional prefix appears in several tags at once (``AzureCloud``,
``AzureCloud.westeurope``, ``Storage.WestEurope`` ...) and in the data no
prefix belongs to two regions. One record is kept per prefix: its region (the
``properties.region`` of any regional tag, kept in Azure's own spelling,
short forms such as ``germanywc`` and ``norwaye`` included; ``""`` means
non-regional), and as service the name of the most specific tag carrying it
(the one with the fewest prefixes, with the ``.Region`` suffix dropped), with
``AzureCloud`` only where nothing else lists the prefix.

Azure Front Door's client-facing ranges are anycast edges and are flagged so.
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

DATASET = "azure-service-tags"
PROVIDER = "azure"
UMBRELLA = "AzureCloud"
#: Tags whose addresses are anycast edges (Front Door's client-facing side).
ANYCAST_TAGS = frozenset({"AzureFrontDoor.Frontend", "AzureFrontDoor.FirstParty"})


def parse(data: bytes) -> ParsedFeed:
    doc = require_mapping(DATASET, load_json(DATASET, data))
    values = require_list(DATASET, doc, "values")
    version = _version(doc)
    normalise = NetworkNormaliser()
    region_of: dict[str, str] = {}
    # network -> (rank, service) of the most specific tag seen so far
    best: dict[str, tuple[int, str]] = {}
    anycast: set[str] = set()
    for value in values:
        name, region, prefixes = _tag(value)
        service = _service_name(name, region)
        rank = 1 << 40 if service == UMBRELLA else len(prefixes)
        edge = name in ANYCAST_TAGS
        for text in prefixes:
            network = normalise(text)
            if network is None:
                continue
            if region:
                region_of.setdefault(network, region)
            current = best.get(network)
            if current is None or rank < current[0]:
                best[network] = (rank, service)
            if edge:
                anycast.add(network)
    records = [
        RangeRecord(
            network=network,
            provider=PROVIDER,
            region=region_of.get(network),
            service=service,
            place=None,
            anycast=network in anycast,
        )
        for network, (_, service) in best.items()
    ]
    return finish(DATASET, version, records, normalise.notes())


def _tag(value: Any) -> tuple[str, str, list[Any]]:
    if not isinstance(value, dict) or not isinstance(value.get("properties"), dict):
        raise FeedInvalid(f"{DATASET}: a value lacks 'properties': {value!r:.80}")
    name = value.get("name") or value.get("id")
    if not isinstance(name, str):
        raise FeedInvalid(f"{DATASET}: a value has no name")
    props = value["properties"]
    prefixes = require_list(DATASET, props, "addressPrefixes", f" in tag {name}")
    region = props.get("region") or ""
    return name, region if isinstance(region, str) else "", prefixes


def _service_name(name: str, region: str) -> str:
    # "Storage.WestEurope" -> "Storage"; the suffix of a regional tag is its
    # region, sometimes spelt differently ("AzureCloud.GermanyWestCentral").
    if region and "." in name:
        return name.rpartition(".")[0]
    return name


def _version(doc: Any) -> str:
    change = doc.get("changeNumber")
    if change is None:
        raise FeedInvalid(f"{DATASET}: missing 'changeNumber'; not a Service Tags file?")
    cloud = doc.get("cloud")
    return f"changeNumber {change}" + (f" ({cloud})" if cloud and cloud != "Public" else "")
