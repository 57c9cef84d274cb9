"""Region tables: provider region -> country, subdivision and city (``data/regions/*.csv``).

One CSV per provider, header ``region,country,subdivision,city,name,source``;
country is ISO 3166-1 alpha-2, subdivision ISO 3166-2 where known. Region ids
are matched case-insensitively (Azure spells them both ``westeurope`` and
``WestEurope``). Pseudo-regions with no place (AWS ``GLOBAL``, Google
``global``) are deliberately absent: ``place_of`` returns None for them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from residency.datasets.errors import RegionTableInvalid
from residency.model import Place
from residency.paths import project_data_dir

HEADER = ("region", "country", "subdivision", "city", "name", "source")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_AWS_ZONE = re.compile(r"^([a-z]{2,4}(?:-[a-z]+)?-[a-z]+-\d)-[a-z0-9-]+$")


@dataclass(frozen=True)
class RegionInfo:
    """One row of a region table."""

    provider: str
    region: str
    place: Place
    name: str = ""
    source: str = ""

    @property
    def parent(self) -> str | None:
        """The parent region of an AWS Local or Wavelength Zone (``us-east-1-iah-1``
        -> ``us-east-1``); None for a region proper."""
        match = _AWS_ZONE.match(self.region) if self.provider == "aws" else None
        return match.group(1) if match else None


@dataclass(frozen=True, eq=False)
class RegionTable:
    """All providers' region tables, loaded once and looked up by (provider, region)."""

    entries: dict[tuple[str, str], RegionInfo]

    @classmethod
    def load(cls, dir: Path | None = None) -> RegionTable:
        """Read every ``<provider>.csv`` under ``dir`` (default ``data/regions``)."""
        folder = dir if dir is not None else project_data_dir() / "regions"
        if not folder.is_dir():
            raise RegionTableInvalid(f"{folder}: region table folder not found")
        entries: dict[tuple[str, str], RegionInfo] = {}
        for path in sorted(folder.glob("*.csv")):
            for info in _read_table(path):
                entries[(info.provider, info.region.lower())] = info
        if not entries:
            raise RegionTableInvalid(f"{folder}: no region tables (*.csv) found")
        return cls(entries)

    def get(self, provider: str | None, region: str | None) -> RegionInfo | None:
        if not provider or not region:
            return None
        return self.entries.get((provider.lower(), region.lower()))

    def place_of(self, provider: str | None, region: str | None) -> Place | None:
        """Where ``region`` of ``provider`` is, or None if unknown or placeless."""
        info = self.get(provider, region)
        return info.place if info else None

    def knows(self, provider: str | None, region: str | None) -> bool:
        return self.get(provider, region) is not None

    def providers(self) -> tuple[str, ...]:
        return tuple(sorted({provider for provider, _ in self.entries}))

    def regions(self, provider: str) -> tuple[str, ...]:
        return tuple(
            sorted(info.region for (p, _), info in self.entries.items() if p == provider.lower())
        )

    def __iter__(self) -> Iterator[RegionInfo]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)


def _read_table(path: Path) -> Iterator[RegionInfo]:
    provider = path.stem.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegionTableInvalid(f"{path}: cannot read region table: {exc}") from None
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise RegionTableInvalid(f"{path}:1: header must be {','.join(HEADER)}")
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        if not row or row[0].startswith("#"):
            continue
        if len(row) != len(HEADER):
            raise RegionTableInvalid(
                f"{path}:{number}: expected {len(HEADER)} fields, got {len(row)}"
            )
        region, country, subdivision, city, name, source = (field.strip() for field in row)
        if not region:
            raise RegionTableInvalid(f"{path}:{number}: empty region id")
        if region.lower() in seen:
            raise RegionTableInvalid(f"{path}:{number}: region {region!r} listed twice")
        seen.add(region.lower())
        if country == "UK":
            raise RegionTableInvalid(f"{path}:{number}: country 'UK' is not an ISO code; use GB")
        if not _COUNTRY.match(country):
            raise RegionTableInvalid(
                f"{path}:{number}: country {country!r} is not an ISO 3166-1 alpha-2 code"
            )
        if subdivision and not (
            _SUBDIVISION.match(subdivision) and subdivision.startswith(country + "-")
        ):
            raise RegionTableInvalid(
                f"{path}:{number}: subdivision {subdivision!r} is not an ISO 3166-2 code "
                f"of {country}"
            )
        yield RegionInfo(
            provider=provider,
            region=region,
            place=Place(country=country, subdivision=subdivision or None, city=city or None),
            name=name,
            source=source,
        )
