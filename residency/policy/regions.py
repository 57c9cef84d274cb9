"""Which providers and regions a policy may name: a small interface with pluggable catalogues.

The datasets layer owns the region tables (``residency.datasets.regions.RegionTable``);
the policy only asks "is this provider known, is this region known". When that table is
not available the CSV tables in ``data/regions/`` answer instead.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from residency.datasets.regions import RegionTable


@functools.cache
def known_providers() -> frozenset[str]:
    """Provider ids a policy may name: every entry of ``data/providers.toml`` (the one
    list of providers, with the sources for each), so the two never drift apart."""
    from residency.locate.providers import ProviderRegistry

    return frozenset(ProviderRegistry.load().ids)


class RegionCatalog(Protocol):
    """Answers whether a provider region exists, for validating policies."""

    def knows_provider(self, provider: str) -> bool: ...

    def knows_region(self, provider: str, region: str) -> bool: ...

    def regions_of(self, provider: str) -> tuple[str, ...]:
        """Known regions of ``provider`` (may be empty when the catalogue cannot list them)."""
        ...


class SetRegionCatalog:
    """A catalogue held in memory: provider -> regions."""

    def __init__(self, regions: Mapping[str, Iterable[str]], providers: Iterable[str] = ()) -> None:
        self.regions = {p.lower(): frozenset(r.lower() for r in rs) for p, rs in regions.items()}
        self.providers = frozenset(p.lower() for p in providers) | frozenset(self.regions)

    def knows_provider(self, provider: str) -> bool:
        return provider in self.providers

    def knows_region(self, provider: str, region: str) -> bool:
        return region.lower() in self.regions.get(provider, frozenset())

    def regions_of(self, provider: str) -> tuple[str, ...]:
        return tuple(sorted(self.regions.get(provider, frozenset())))


class CsvRegionCatalog(SetRegionCatalog):
    """Regions from CSV files with ``provider`` and ``region`` columns (or ``<provider>.csv``)."""

    def __init__(self, folder: Path) -> None:
        regions: dict[str, set[str]] = {}
        for path in sorted(folder.glob("*.csv")):
            with path.open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                fields = set(reader.fieldnames or ())
                if "region" not in fields:
                    continue
                for row in reader:
                    provider = (row.get("provider") or path.stem).strip().lower()
                    region = (row.get("region") or "").strip()
                    if provider and region:
                        regions.setdefault(provider, set()).add(region)
        super().__init__(regions, known_providers())


class RegionTableCatalog:
    """Policy's view of the datasets layer's ``RegionTable``: that module holds the one
    parser and validator of ``data/regions/*.csv``, so policy never re-reads the files."""

    def __init__(self, table: RegionTable) -> None:
        self.table = table

    def knows_provider(self, provider: str) -> bool:
        return provider in self.table.providers() or provider in known_providers()

    def knows_region(self, provider: str, region: str) -> bool:
        return self.table.knows(provider, region)

    def regions_of(self, provider: str) -> tuple[str, ...]:
        return self.table.regions(provider)


def default_region_catalog() -> RegionCatalog:
    """The project's region tables (``data/regions/*.csv``); a damaged table is a
    ``RegionTableInvalid`` error, never a silently smaller catalogue."""
    return RegionTableCatalog(RegionTable.load())
