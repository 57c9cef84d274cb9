"""RFC 8805 self-published geofeeds (``prefix,country,region,city,postal``), CSV or JSON.

Used for AWS ``geo-ip-feed.csv``, DigitalOcean, Linode, Vultr's JSON variant
(``{"subnets": [{"ip_prefix", "alpha2code", "region", "city", ...}]}``) and
any geofeed URL the user adds. Records are ``GEOFEED`` evidence with the place
the feed states, kept as stated (AWS writes Hong Kong as ``CN,CN-HK``; the
locator reports such disagreements, the parser does not second-guess them).

Per RFC 8805 a row with an empty country says "no location": it is kept
without a place. Malformed rows are skipped and counted in the notes; a file
with no usable row at all is ``FeedInvalid``.
"""

from __future__ import annotations

import csv
import re
from typing import Any

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed, Parser, RangeRecord
from residency.datasets.parsers._common import (
    NetworkNormaliser,
    content_version,
    decode_text,
    finish,
    load_json,
    require_list,
    valid_country,
    valid_subdivision,
)
from residency.model import EvidenceKind, Place

_MODIFIED = re.compile(r"(?:last[- ]modified|updated|generated)\s*[:=]?\s*(.+)$", re.IGNORECASE)


def make_geofeed_parser(dataset: str, provider: str | None) -> Parser:
    """A parser for one geofeed; ``provider`` is set on every record (None for unknown owners)."""

    def parse(data: bytes) -> ParsedFeed:
        return parse_geofeed(data, dataset=dataset, provider=provider)

    parse.__name__ = f"parse_{dataset.replace('-', '_')}"
    parse.__doc__ = f"Parse the {dataset} geofeed (RFC 8805)."
    return parse


def parse(data: bytes) -> ParsedFeed:
    """A geofeed of unknown owner (a URL the user added): dataset ``geofeed``."""
    return parse_geofeed(data)


def parse_geofeed(
    data: bytes, *, dataset: str = "geofeed", provider: str | None = None
) -> ParsedFeed:
    try:
        text = decode_text(dataset, data)
        latin1 = False
    except FeedInvalid:
        if not data.strip():
            raise
        # RFC 8805 asks for UTF-8, but some feeds are Latin-1 (city names only)
        text, latin1 = data.decode("latin-1"), True
    if text.lstrip().startswith(("{", "[")):
        return _parse_json(data, dataset, provider)
    if text.lstrip()[:1] == "<":
        raise FeedInvalid(f"{dataset}: got HTML/XML, not a geofeed CSV")
    version: str | None = None
    rows: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            match = _MODIFIED.search(stripped.lstrip("# "))
            if match and version is None:
                version = match.group(1).strip()
            continue
        rows.append(stripped.split(",") if '"' not in stripped else next(csv.reader([stripped])))
    builder = _Builder(dataset, provider)
    if latin1:
        builder.extra_notes.append("not UTF-8; read as Latin-1")
    for row in rows:
        builder.add(row[0], *(row[1:4] + [""] * (3 - len(row[1:4]))))
    return builder.result(version or content_version(data))


def _parse_json(data: bytes, dataset: str, provider: str | None) -> ParsedFeed:
    doc = load_json(dataset, data)
    if isinstance(doc, list):
        subnets: list[Any] = doc
        version = None
    elif isinstance(doc, dict):
        subnets = require_list(dataset, doc, "subnets")
        updated = doc.get("updated")
        version = updated if isinstance(updated, str) and updated else None
    else:
        raise FeedInvalid(f"{dataset}: expected a geofeed JSON object or list")
    builder = _Builder(dataset, provider)
    for entry in subnets:
        if not isinstance(entry, dict):
            builder.bad_rows += 1
            continue
        builder.add(
            _text(entry.get("ip_prefix")),
            _text(entry.get("alpha2code")),
            _text(entry.get("region")),
            _text(entry.get("city")),
        )
    return builder.result(version or content_version(data))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


class _Builder:
    """Collects rows into records, counting what it had to skip."""

    def __init__(self, dataset: str, provider: str | None) -> None:
        self.dataset = dataset
        self.provider = provider
        self.normalise = NetworkNormaliser()
        self.records: dict[str, RangeRecord] = {}
        self.places: dict[tuple[str, str, str], Place | None] = {}
        self.bad_rows = 0
        self.bad_countries = 0
        self.duplicates = 0
        self.extra_notes: list[str] = []

    def add(self, prefix: str, country: str, region: str, city: str) -> None:
        network = self.normalise(prefix)
        if network is None:
            self.bad_rows += 1
            return
        key = (country, region, city)
        if key not in self.places:
            self.places[key] = self._place(country, region, city)
        if network in self.records:
            self.duplicates += 1  # RFC 8805: the first entry wins
            return
        self.records[network] = RangeRecord(
            network=network,
            provider=self.provider,
            region=None,
            service=None,
            place=self.places[key],
            kind=EvidenceKind.GEOFEED,
        )

    def _place(self, country: str, region: str, city: str) -> Place | None:
        if not country.strip():
            return None
        code = valid_country(country)
        if code is None:
            self.bad_countries += 1
            return None
        return Place(
            country=code,
            subdivision=valid_subdivision(region, code),
            city=city.strip() or None,
        )

    def result(self, version: str) -> ParsedFeed:
        notes: list[str] = list(self.extra_notes)
        if self.bad_rows:
            notes.append(f"skipped {self.bad_rows} rows without a valid IP prefix")
        if self.bad_countries:
            notes.append(
                f"{self.bad_countries} distinct locations had an invalid country code "
                "(kept unplaced)"
            )
        if self.duplicates:
            notes.append(f"{self.duplicates} repeated prefixes ignored (first entry wins)")
        return finish(self.dataset, version, self.records.values(), notes)
