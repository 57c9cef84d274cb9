"""The opt-in entity tables, compiled into one compact lookup: domain -> who each table says.

Built from the datasets ``residency data update --enable entities`` fetched or
``residency data import`` installed (kind ``entity-list``). A host is looked up by walking
its suffixes, most specific first (``a.b.adition.com``, ``b.adition.com``, ``adition.com``);
the first domain any table lists gives every table's claim for it. Merging the claims
(agreement, a parent named instead of its subsidiary, real disagreement) is evidence.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from residency.control.names import name_key
from residency.control.tables import PARSERS, TABLE_NAMES, ParsedTable
from residency.datasets.errors import DatasetError

KIND = "entity-list"


@dataclass(frozen=True)
class TableInfo:
    """One table in use, for provenance: ``entity-list disconnect 2026-08-07``."""

    dataset: str
    table: str  # "webxray", "disconnect", "duckduckgo-web", "duckduckgo-android"
    version: str  # the data's date where known
    licence: str = ""

    @property
    def label(self) -> str:
        return f"{self.table} {self.version}"


@dataclass(frozen=True)
class Claim:
    """One table's answer for one domain."""

    entity: str
    table: TableInfo
    domain: str  # the domain the table lists (the host or one of its parents)


class EntityIndex:
    """domain -> (table, organisation) pairs, plus each table's countries and parents."""

    def __init__(self) -> None:
        self.tables: list[TableInfo] = []
        self.names: list[str] = []  # interned organisation names
        self._name_ids: dict[str, int] = {}
        # domain -> packed claims: table index * 2**20 + name id
        self.domains: dict[str, tuple[int, ...]] = {}
        self.countries: dict[str, tuple[str, TableInfo]] = {}  # name key -> country, table
        self.parents: dict[str, tuple[str, TableInfo]] = {}  # name key -> parent name, table
        self.packages: dict[str, tuple[str, TableInfo]] = {}  # app package -> organisation

    def __bool__(self) -> bool:
        return bool(self.domains)

    def _name_id(self, name: str) -> int:
        found = self._name_ids.get(name)
        if found is None:
            found = self._name_ids[name] = len(self.names)
            self.names.append(name)
        return found

    def add(self, info: TableInfo, parsed: ParsedTable) -> None:
        if info not in self.tables:
            self.tables.append(info)
        table = self.tables.index(info)
        for record in parsed.records:
            packed = (table << 20) | self._name_id(record.entity)
            key = name_key(record.entity)
            if record.country is not None:
                self.countries.setdefault(key, (record.country, info))
            if record.parent is not None:
                self.parents.setdefault(key, (record.parent, info))
            for domain in record.domains:
                listed = self.domains.get(domain)
                if listed is None:
                    self.domains[domain] = (packed,)
                elif packed not in listed:
                    self.domains[domain] = (*listed, packed)
        for package, owner in parsed.packages:
            self.packages.setdefault(package, (owner, info))

    def claims(self, domain: str) -> list[Claim]:
        return [
            Claim(self.names[packed & 0xFFFFF], self.tables[packed >> 20], domain)
            for packed in self.domains.get(domain, ())
        ]

    def lookup(self, host: str, stop_at: int = 1) -> list[Claim]:
        """Claims for the most specific listed domain of ``host``; ``stop_at`` labels
        are never looked up alone (1: a bare TLD is never a match)."""
        labels = host.lower().rstrip(".").split(".")
        for start in range(len(labels) - stop_at):
            domain = ".".join(labels[start:])
            if domain in self.domains:
                return self.claims(domain)
        return []

    def lookup_levels(self, host: str) -> list[list[Claim]]:
        """Claims at every listed level of ``host``, most specific first."""
        host = host.lower().rstrip(".")
        found = []
        start = 0
        while True:
            dot = host.find(".", start)
            if dot < 0:
                break  # a bare TLD is never a match
            domain = host[start:]
            if domain in self.domains:
                found.append(self.claims(domain))
            start = dot + 1
        return found

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(t.label for t in self.tables)


def parse_files(dataset: str, files: Sequence[tuple[str, Path]]) -> list[ParsedTable]:
    """Parse a dataset's stored files; ``FeedInvalid`` names the file that is wrong."""
    from residency.datasets.errors import FeedInvalid

    parsed: list[ParsedTable] = []
    for stored, path in files:
        parser = PARSERS.get((dataset, stored))
        if parser is None:
            raise FeedInvalid(f"{dataset}: no parser for {stored}")
        try:
            with path.open("rb") as handle:
                parsed.append(parser(handle, f"{dataset}: {path.name}"))
        except OSError as err:
            raise FeedInvalid(f"{dataset}: cannot read {path.name} ({err.strerror})") from None
    return parsed


def load_index(directory: Path | None = None, notes: list[str] | None = None) -> EntityIndex:
    """Every entity-list dataset in place, compiled; an unreadable one is left out, with
    a note (the others still count)."""
    from residency.datasets.manifest import load_manifest

    index = EntityIndex()
    try:
        manifest = load_manifest(directory)
    except DatasetError as err:
        if notes is not None:
            notes.append(f"entity tables not read: {err}")
        return index
    for name, entry in sorted(manifest.entries.items()):
        if entry.kind != KIND:
            continue
        paths = entry.file_paths(directory)
        if not all(p.is_file() for p in paths):
            continue
        day = entry.published or entry.version
        if not day or day.startswith("sha256:") or day == "unversioned":
            day = (entry.fetched or "")[:10] or "date unknown"
        info = TableInfo(name, TABLE_NAMES.get(name, name), day, entry.licence)
        try:
            for parsed in parse_files(
                name, [(f.name, p) for f, p in zip(entry.files, paths, strict=True)]
            ):
                index.add(info, parsed)
        except DatasetError as err:
            if notes is not None:
                notes.append(f"entity table {name} not used: {err}")
    return index


def index_of(tables: Iterable[tuple[TableInfo, ParsedTable]]) -> EntityIndex:
    """An index of parsed tables given directly (tests, benchmarks)."""
    index = EntityIndex()
    for info, parsed in tables:
        index.add(info, parsed)
    return index
