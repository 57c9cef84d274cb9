"""Organisation -> country -> parent -> ultimate parent, each step with its source.

The curated table ``data/organisations.toml`` (shipped) names the hyperscalers, CDNs,
sovereign clouds and largest trackers with their legal entity, country, parent and the
document that says so. A chain is walked up to ``MAX_CHAIN`` steps and stops at a cycle;
where the table knows an organisation has an owner but not which, the chain says
"parent unknown" instead of ending as if the top had been reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from residency.control.errors import ControlTableInvalid, read_named_tables
from residency.control.names import name_key
from residency.model import OwnerLink
from residency.paths import project_data_dir

FILE = "organisations.toml"
#: Longest ownership chain followed; real ones are 1-4 steps.
MAX_CHAIN = 8


@dataclass(frozen=True)
class Organisation:
    id: str
    entity: str
    country: str
    source: str
    parent: str | None = None  # id of the owner; None = the top of its chain
    parent_unknown: bool = False
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    lei: str | None = None
    notes: str = ""

    @property
    def link(self) -> OwnerLink:
        return OwnerLink(self.entity, self.country, f"{FILE} {self.source}", self.lei)


def _strings(row: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = row.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ControlTableInvalid(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _organisation(org_id: str, row: Any, where: str) -> Organisation:
    here = f"{where}: [organisations.{org_id}]"
    if not isinstance(row, dict):
        raise ControlTableInvalid(f"{here} must be a table")
    for key in ("entity", "country", "source"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise ControlTableInvalid(f"{here}: '{key}' is required (a string)")
    country = row["country"]
    if len(country) != 2 or not country.isupper():
        raise ControlTableInvalid(f"{here}: country {country!r} is not ISO alpha-2")
    parent = row.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise ControlTableInvalid(f"{here}: 'parent' must be an organisation id")
    return Organisation(
        id=org_id,
        entity=row["entity"],
        country=country,
        source=row["source"],
        parent=parent,
        parent_unknown=bool(row.get("parent_unknown", False)),
        aliases=_strings(row, "aliases", here),
        domains=tuple(d.lower() for d in _strings(row, "domains", here)),
        providers=_strings(row, "providers", here),
        lei=row.get("lei") if isinstance(row.get("lei"), str) else None,
        notes=str(row.get("notes", "")),
    )


class Organisations:
    """The curated table, indexed by id, by name (entity and aliases), by domain and by
    provider id."""

    def __init__(self, organisations: Iterable[Organisation], where: str = FILE) -> None:
        self.by_id: dict[str, Organisation] = {}
        self.by_name: dict[str, Organisation] = {}
        self.by_domain: dict[str, Organisation] = {}
        self.by_provider: dict[str, Organisation] = {}
        for org in organisations:
            self.by_id[org.id] = org
        for org in self.by_id.values():
            if org.parent is not None and org.parent not in self.by_id:
                raise ControlTableInvalid(
                    f"{where}: [organisations.{org.id}] parent {org.parent!r} is not listed"
                )
            for name in (org.entity, *org.aliases):
                self.by_name.setdefault(name_key(name), org)
            for domain in org.domains:
                if domain in self.by_domain and self.by_domain[domain].id != org.id:
                    raise ControlTableInvalid(
                        f"{where}: domain {domain} is listed under both "
                        f"{self.by_domain[domain].id} and {org.id}"
                    )
                self.by_domain[domain] = org
            for provider in org.providers:
                self.by_provider.setdefault(provider, org)

    @classmethod
    def load(cls, path: Path | None = None) -> Organisations:
        path = path or project_data_dir() / FILE
        rows = read_named_tables(path, "organisations", "[organisations.<id>]")
        return cls((_organisation(k, v, str(path)) for k, v in rows.items()), str(path))

    def find(self, name: str) -> Organisation | None:
        """The organisation this name (legal name or alias) stands for."""
        return self.by_name.get(name_key(name))

    def chain(self, org: Organisation) -> tuple[tuple[OwnerLink, ...], str]:
        """The parents of ``org`` (direct first) and, when the chain stops short, why."""
        links: list[OwnerLink] = []
        seen = {org.id}
        current = org
        while current.parent is not None:
            parent = self.by_id[current.parent]
            if parent.id in seen:
                return tuple(links), f"parent chain stops at a cycle ({parent.entity} again)"
            if len(links) >= MAX_CHAIN:
                return tuple(links), f"parent chain cut after {MAX_CHAIN} steps"
            seen.add(parent.id)
            # the step is evidenced by the child's source (its owner's filing, the deal)
            links.append(
                OwnerLink(parent.entity, parent.country, f"{FILE} {current.source}", parent.lei)
            )
            current = parent
        if current.parent_unknown:
            return tuple(
                links
            ), f"parent unknown: {current.entity} has an owner {FILE} does not name"
        return tuple(links), ""

    def ancestors(self, org: Organisation) -> frozenset[str]:
        """Ids of every organisation above ``org`` (cycle-safe)."""
        found: set[str] = set()
        current = org
        while current.parent is not None and current.parent not in found:
            found.add(current.parent)
            current = self.by_id[current.parent]
        return frozenset(found)


@cache
def default_organisations() -> Organisations:
    return Organisations.load()


@cache
def operator_chain(provider: str | None, entity: str | None) -> tuple[OwnerLink, ...]:
    """The owners above a host operator (providers.toml id and entity), direct parent first:
    ``aws`` / Amazon Web Services, Inc. -> (Amazon.com, Inc. (US),). Empty when the
    curated table does not know it."""
    organisations = default_organisations()
    org = organisations.by_provider.get(provider) if provider else None
    if org is None and entity:
        org = organisations.find(entity)
    if org is None:
        return ()
    parents, _ = organisations.chain(org)
    if entity and name_key(org.entity) != name_key(entity):
        # the operating entity is the organisation's subsidiary or its brand
        parents = (org.link, *parents)
    return parents
