"""AWS ``ip-ranges.json``: prefixes with region, network border group and service.

Decisions:
- ``region`` of a record is the ``network_border_group``: for a Local Zone or a
  Wavelength Zone (``us-east-1-iah-1``, ``ap-southeast-1-bkk-1``) that is where
  the addresses actually are, often in another city or country than the parent
  region; the region tables map each border group to its own place.
- A prefix is listed once per service, always with the umbrella ``AMAZON`` and
  often with ``EC2`` besides the real one. One record is kept per prefix and
  border group, naming the most specific service: ``AMAZON`` only if nothing
  else, ``EC2`` only if nothing more specific; several specific ones are joined
  with ``+`` (e.g. ``CLOUDFRONT+CLOUDFRONT_ORIGIN_FACING``).
- ``GLOBAL`` has no place (the region tables leave it out). A ``GLOBAL`` prefix
  that serves Global Accelerator or Route 53 is anycast and is flagged so.
  CloudFront's ``GLOBAL`` prefixes are not: a CloudFront edge is a unicast server
  in one place, picked per client by DNS (the merge marks it a CDN edge from its
  service). Other ``GLOBAL`` prefixes are only unplaced.
"""

from __future__ import annotations

from collections.abc import Iterable
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

DATASET = "aws-ip-ranges"
PROVIDER = "aws"
GLOBAL = "GLOBAL"

#: Services whose GLOBAL prefixes are anycast: served from many places at once.
ANYCAST_SERVICES = frozenset({"GLOBALACCELERATOR", "ROUTE53"})
#: Umbrella services, least specific first.
GENERIC_SERVICES = ("AMAZON", "EC2")


def pick_service(
    services: Iterable[str], generic: tuple[str, ...] = GENERIC_SERVICES
) -> str | None:
    """The most specific of the services listed for one prefix (see module doc)."""
    distinct = list(dict.fromkeys(s for s in services if s))
    for umbrella in generic:
        if len(distinct) > 1 and umbrella in distinct:
            distinct.remove(umbrella)
    if not distinct:
        return None
    return "+".join(sorted(distinct))


def is_anycast(region: str | None, services: Iterable[str]) -> bool:
    return region == GLOBAL and any(s in ANYCAST_SERVICES for s in services)


def parse(data: bytes) -> ParsedFeed:
    doc = require_mapping(DATASET, load_json(DATASET, data))
    version = _version(doc)
    v4 = require_list(DATASET, doc, "prefixes")
    v6 = doc.get("ipv6_prefixes", [])
    if not isinstance(v6, list):
        raise FeedInvalid(f"{DATASET}: 'ipv6_prefixes' should be a list")
    normalise = NetworkNormaliser()
    # (network, border group) -> services, in feed order
    grouped: dict[tuple[str, str], list[str]] = {}
    for key, entries in (("ip_prefix", v4), ("ipv6_prefix", v6)):
        for entry in entries:
            _collect(entry, key, normalise, grouped)
    records = []
    for (network, group), services in grouped.items():
        records.append(
            RangeRecord(
                network=network,
                provider=PROVIDER,
                region=group,
                service=pick_service(services),
                place=None,
                anycast=is_anycast(group, services),
            )
        )
    return finish(DATASET, version, records, normalise.notes())


def _collect(
    entry: Any,
    key: str,
    normalise: NetworkNormaliser,
    grouped: dict[tuple[str, str], list[str]],
) -> None:
    if not isinstance(entry, dict) or key not in entry:
        raise FeedInvalid(f"{DATASET}: an entry lacks {key!r}: {str(entry)[:80]}")
    network = normalise(entry[key])
    if network is None:
        return
    region = entry.get("region")
    group = entry.get("network_border_group") or region
    if not isinstance(group, str) or not group:
        raise FeedInvalid(f"{DATASET}: prefix {entry[key]} has no region")
    service = entry.get("service")
    grouped.setdefault((network, group), []).append(service if isinstance(service, str) else "")


def _version(doc: Any) -> str:
    create = doc.get("createDate")
    token = doc.get("syncToken")
    if not isinstance(create, str) or not create:
        raise FeedInvalid(f"{DATASET}: missing 'createDate'; not an AWS ip-ranges.json?")
    return f"{create} (syncToken {token})" if token else create
