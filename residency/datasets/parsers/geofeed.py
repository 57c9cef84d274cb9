"""RFC 8805 self-published geofeeds (``prefix,country,region,city,postal``), CSV or JSON.

Used for AWS ``geo-ip-feed.csv``, DigitalOcean, Linode, Vultr's JSON variant
(``{"subnets": [{"ip_prefix", "alpha2code", "region", "city", ...}]}``) and
any geofeed URL the user adds. Records are ``GEOFEED`` evidence with the place
the feed states, kept as stated (AWS writes Hong Kong as ``CN,CN-HK``; the
locator reports such disagreements, the parser does not second-guess them).

Per RFC 8805 a row with an empty country says "no location": it is kept
without a place. Every other row is checked the way the geofeed validators
(``geofeed-tools``, ``geofeed-validator``) check it, so that a bad row never
decides a location:

- a prefix that is not an IP network, or has host bits set (``24.144.64.1/22``:
  an address where a network was meant, or a wrong length; guessing either way
  could place the wrong addresses), drops the line;
- a country that is not ISO 3166-1 alpha-2 (``ZZ``, ``EU``; ``XK`` is accepted as
  Kosovo, ``UK`` is read as ``GB``) drops the line; so does a region or city with no
  country;
- a region that is not an ISO 3166-2 subdivision of that country (``DE-BE`` under
  ``US``, ``SG-SIN``) drops the region only: the country and city stay;
- the last line of a file that does not end in a newline, with fewer fields than
  the other lines, was cut short (truncated download) and is dropped.

Each file's drops are counted in one note naming the reasons and line numbers
(entries, for JSON). A file with no usable row at all is ``FeedInvalid``.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed, Parser, RangeRecord
from residency.datasets.parsers._common import (
    content_version,
    decode_text,
    finish,
    iso_country,
    iso_region,
    load_json,
    parse_network,
    require_list,
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
    return check_geofeed(data, dataset=dataset, provider=provider)[0]


@dataclass
class GeofeedCheck:
    """What the parser decided about each line (CSV) or entry (JSON), by number from 1."""

    unit: str = "line"
    dropped: dict[int, str] = field(default_factory=dict)  # line -> why it was dropped
    regions_dropped: dict[int, str] = field(default_factory=dict)  # line kept, region not
    repeated: set[int] = field(default_factory=set)  # prefix seen before: first entry wins
    uk_as_gb: int = 0

    def summary(self) -> str | None:
        """``"1 line dropped (unknown country ZZ, line 1); 1 region dropped (...)"``."""
        parts = []
        for what, verdicts in (
            (self.unit, self.dropped),
            ("region", self.regions_dropped),
        ):
            if verdicts:
                count = len(verdicts)
                plural = "s" if count != 1 else ""
                parts.append(f"{count} {what}{plural} dropped ({_why(verdicts, self.unit)})")
        return "; ".join(parts) or None


def _why(verdicts: dict[int, str], unit: str) -> str:
    """Reasons, most frequent first, each with its first line numbers."""
    by_reason: dict[str, list[int]] = {}
    for line, reason in sorted(verdicts.items()):
        by_reason.setdefault(reason, []).append(line)
    ranked = sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[1][0]))
    shown = []
    for reason, lines in ranked[:3]:
        numbers = ", ".join(str(n) for n in lines[:3])
        more = f" and {len(lines) - 3} more" if len(lines) > 3 else ""
        plural = "s" if len(lines) > 1 else ""
        shown.append(f"{reason}, {unit}{plural} {numbers}{more}")
    if len(ranked) > 3:
        shown.append(f"{len(ranked) - 3} other reasons")
    return "; ".join(shown)


def check_geofeed(
    data: bytes, *, dataset: str = "geofeed", provider: str | None = None
) -> tuple[ParsedFeed, GeofeedCheck]:
    """Parse a geofeed and say, line by line, what was dropped and why."""
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
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            match = _MODIFIED.search(stripped.lstrip("# "))
            if match and version is None:
                version = match.group(1).strip()
            continue
        fields = stripped.split(",") if '"' not in stripped else next(csv.reader([stripped]))
        rows.append((number, fields))
    builder = _Builder(dataset, provider, GeofeedCheck("line"))
    if latin1:
        builder.extra_notes.append("not UTF-8; read as Latin-1")
    if rows and not text.endswith(("\n", "\r")):
        usual = Counter(len(fields) for _, fields in rows).most_common(1)[0][0]
        number, fields = rows[-1]
        if len(fields) < usual:
            # A download cut mid-line can still look like a row (81.2.3.0/2, a city "Berl").
            builder.check.dropped[number] = "cut short at the end of the file (truncated?)"
            rows.pop()
    for number, row in rows:
        builder.add(number, row[0], *(row[1:4] + [""] * (3 - len(row[1:4]))))
    return builder.result(version or content_version(data))


def _parse_json(data: bytes, dataset: str, provider: str | None) -> tuple[ParsedFeed, GeofeedCheck]:
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
    builder = _Builder(dataset, provider, GeofeedCheck("entry"))
    for number, entry in enumerate(subnets, start=1):
        if not isinstance(entry, dict):
            builder.check.dropped[number] = "not an object"
            continue
        builder.add(
            number,
            _text(entry.get("ip_prefix")),
            _text(entry.get("alpha2code")),
            _text(entry.get("region")),
            _text(entry.get("city")),
        )
    return builder.result(version or content_version(data))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


class _Builder:
    """Collects rows into records, recording what it had to drop and why."""

    def __init__(self, dataset: str, provider: str | None, check: GeofeedCheck) -> None:
        self.dataset = dataset
        self.provider = provider
        self.check = check
        self.records: dict[str, RangeRecord] = {}
        self.networks: dict[str, tuple[str, bool] | None] = {}
        self.places: dict[tuple[str, str, str], tuple[Place | None, str, str]] = {}
        self.extra_notes: list[str] = []

    def add(self, number: int, prefix: str, country: str, region: str, city: str) -> None:
        prefix = prefix.strip()
        if prefix not in self.networks:
            self.networks[prefix] = parse_network(prefix)
        parsed = self.networks[prefix]
        if parsed is None:
            self.check.dropped[number] = (
                f"{prefix!r} is not an IP prefix" if prefix else "no prefix"
            )
            return
        network, host_bits = parsed
        if host_bits:
            self.check.dropped[number] = f"host bits set in {prefix}"
            return
        key = (country, region, city)
        if key not in self.places:
            self.places[key] = _place(country, region, city)
        place, line_problem, region_problem = self.places[key]
        if line_problem:
            self.check.dropped[number] = line_problem
            return
        if region_problem:
            self.check.regions_dropped[number] = region_problem
        if country.strip().upper() == "UK":
            self.check.uk_as_gb += 1
        if network in self.records:
            self.check.repeated.add(number)  # RFC 8805: the first entry wins
            return
        self.records[network] = RangeRecord(
            network=network,
            provider=self.provider,
            region=None,
            service=None,
            place=place,
            kind=EvidenceKind.GEOFEED,
        )

    def result(self, version: str) -> tuple[ParsedFeed, GeofeedCheck]:
        notes: list[str] = []
        summary = self.check.summary()
        if summary:
            notes.append(summary)
        notes.extend(self.extra_notes)
        if self.check.uk_as_gb:
            count = self.check.uk_as_gb
            plural = "s give" if count != 1 else " gives"
            notes.append(f"{count} {self.check.unit}{plural} country UK, read as GB")
        if self.check.repeated:
            notes.append(f"{len(self.check.repeated)} repeated prefixes ignored (first entry wins)")
        return finish(self.dataset, version, self.records.values(), notes), self.check


def _place(country: str, region: str, city: str) -> tuple[Place | None, str, str]:
    """(place, why the line is dropped, why its region is dropped); empty text: no problem."""
    country, region, city = country.strip(), region.strip(), city.strip()
    if not country:
        if region or city:
            return None, "region or city without a country", ""
        return None, "", ""  # RFC 8805: a prefix deliberately not geolocated
    code = "GB" if country.upper() == "UK" else iso_country(country)
    if code is None:
        return None, f"unknown country {country}", ""
    subdivision = iso_region(region, code) if region else None
    region_problem = ""
    if region and subdivision is None:
        region_problem = f"{region} is not a region of {code}"
    return Place(country=code, subdivision=subdivision, city=city or None), "", region_problem
