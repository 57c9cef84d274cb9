"""The shape every feed parser returns: ranges with what the feed claims about them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from residency.model import EvidenceKind, Place


@dataclass(frozen=True)
class RangeRecord:
    """One network and what its feed says about it.

    ``place`` is set only where the feed itself (a geofeed row) gives one; for a
    provider feed the locator maps ``(provider, region)`` through the region tables.
    ``anycast`` marks CDN/anycast edges, which never get a place.
    """

    network: str  # CIDR, normalised (host bits cleared), e.g. "13.228.0.0/15"
    provider: str | None
    region: str | None
    service: str | None
    place: Place | None
    anycast: bool = False
    asn: int | None = None
    org: str | None = None
    kind: EvidenceKind = EvidenceKind.PROVIDER_FEED


@dataclass(frozen=True)
class ParsedFeed:
    """The whole parsed content of one feed file, with its upstream version."""

    dataset: str  # dataset id, e.g. "aws-ip-ranges"
    version: str  # upstream version (createDate, changeNumber, ...) or "unversioned"
    records: tuple[RangeRecord, ...]
    notes: tuple[str, ...] = ()  # what was skipped or odd, one short line each


#: A parser takes the raw bytes of a feed file and returns its records.
Parser = Callable[[bytes], ParsedFeed]
