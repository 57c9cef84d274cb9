"""What every entity-table parser gives back, and the limits that bound its memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import ijson

from residency.datasets.errors import FeedInvalid

#: Organisations kept per table; a table past this is cut, with a note (the real ones
#: hold a few thousand).
MAX_ENTITIES = 100_000
#: Domains kept per table (the real ones hold tens of thousands).
MAX_DOMAINS = 1_000_000
#: Domains kept per organisation.
MAX_DOMAINS_PER_ENTITY = 50_000


@dataclass(frozen=True)
class EntityRecord:
    """One organisation as one table names it, with the domains it lists for it."""

    entity: str
    domains: tuple[str, ...]
    country: str | None = None
    parent: str | None = None  # the parent's name, as the same table gives it


@dataclass(frozen=True)
class ParsedTable:
    """One entity table file, parsed: its organisations and what was dropped."""

    table: str  # "webxray", "disconnect", "ddg-web", "ddg-android"
    records: tuple[EntityRecord, ...]
    packages: tuple[tuple[str, str], ...] = ()  # Android package name -> organisation
    notes: tuple[str, ...] = ()

    @property
    def domain_count(self) -> int:
        return sum(len(r.domains) for r in self.records)


@dataclass
class Collector:
    """Domains per organisation, gathered while streaming, within the limits above."""

    table: str
    label: str
    domains: dict[str, dict[str, None]] = field(default_factory=dict)
    countries: dict[str, str | None] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)
    total: int = 0
    dropped: int = 0
    cut: bool = False

    def add(self, entity: str, domain: str | None) -> None:
        if domain is None:
            self.dropped += 1
            return
        listed = self.domains.get(entity)
        if listed is None:
            if len(self.domains) >= MAX_ENTITIES:
                self.cut = True
                return
            listed = self.domains[entity] = {}
        if domain in listed:
            return
        if self.total >= MAX_DOMAINS or len(listed) >= MAX_DOMAINS_PER_ENTITY:
            self.cut = True
            return
        listed[domain] = None
        self.total += 1

    def entity(self, name: str, country: str | None = None, parent: str | None = None) -> None:
        if name not in self.domains and len(self.domains) < MAX_ENTITIES:
            self.domains[name] = {}
        if country is not None:
            self.countries[name] = country
        if parent is not None:
            self.parents[name] = parent

    def result(self, notes: list[str], packages: tuple[tuple[str, str], ...] = ()) -> ParsedTable:
        if self.dropped:
            notes.append(f"{self.dropped} domain entries were not DNS names and were skipped")
        if self.cut:
            notes.append(
                f"cut at {MAX_ENTITIES} organisations / {MAX_DOMAINS} domains "
                f"({MAX_DOMAINS_PER_ENTITY} per organisation)"
            )
        records = tuple(
            EntityRecord(name, tuple(found), self.countries.get(name), self.parents.get(name))
            for name, found in self.domains.items()
        )
        return ParsedTable(self.table, records, packages, tuple(notes))


def stream(handle: IO[bytes], prefix: str, label: str, kind: str = "kvitems") -> Iterator[Any]:
    """``ijson.kvitems``/``items`` of ``handle`` from its start; a JSON error is
    ``FeedInvalid`` naming ``label``."""
    handle.seek(0)
    reader: Callable[..., Iterator[Any]] = ijson.kvitems if kind == "kvitems" else ijson.items
    try:
        yield from reader(handle, prefix, use_float=True)
    except ijson.JSONError as err:
        raise FeedInvalid(f"{label}: not valid JSON ({str(err)[:120]})") from None
    except UnicodeDecodeError:
        raise FeedInvalid(f"{label}: not UTF-8 text") from None


def wrong_shape(label: str, expected: str) -> FeedInvalid:
    return FeedInvalid(f"{label}: wrong shape, expected {expected}; wrong file?")
