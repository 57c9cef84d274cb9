"""Sovereign-cloud offerings, recognised by name (the CNAME chain) and by provider region.

``data/sovereign_clouds.toml`` lists each offering with its operating organisation (whose
country and parent chain come from data/organisations.toml), its name suffixes and its
regions, and the provider's own document. Offerings that share the global cloud's
public endpoints (EU Data Boundary, partner-operated controls) cannot be recognised and
are not listed (docs/control.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from residency.control.errors import ControlTableInvalid, read_named_tables
from residency.control.organisations import Organisation, Organisations, default_organisations
from residency.model import IpFacts, SovereignCloud
from residency.paths import project_data_dir

FILE = "sovereign_clouds.toml"


@dataclass(frozen=True)
class Offering:
    id: str
    name: str
    organisation: Organisation
    source: str
    provider: str | None = None
    partition: str | None = None
    regions: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    notes: str = ""


class SovereignClouds:
    def __init__(self, offerings: Iterable[Offering], organisations: Organisations) -> None:
        self.offerings = {o.id: o for o in offerings}
        self.organisations = organisations
        self.by_suffix = {s: o for o in self.offerings.values() for s in o.suffixes}
        self._dotted = tuple("." + s for s in self.by_suffix)
        self.by_region = {(o.provider, r): o for o in self.offerings.values() for r in o.regions}
        self._providers = frozenset(provider for provider, _ in self.by_region)

    @classmethod
    def load(
        cls, path: Path | None = None, organisations: Organisations | None = None
    ) -> SovereignClouds:
        path = path or project_data_dir() / FILE
        organisations = organisations or default_organisations()
        rows = read_named_tables(path, "offerings", "[offerings.<id>]")
        found: list[Offering] = []
        for offering_id, row in rows.items():
            here = f"{path}: [offerings.{offering_id}]"
            if not isinstance(row, dict):
                raise ControlTableInvalid(f"{here} must be a table")
            org = organisations.by_id.get(str(row.get("organisation")))
            if org is None:
                raise ControlTableInvalid(
                    f"{here}: organisation {row.get('organisation')!r} is not in organisations.toml"
                )
            for key in ("name", "source"):
                if not isinstance(row.get(key), str):
                    raise ControlTableInvalid(f"{here}: '{key}' is required (a string)")
            found.append(
                Offering(
                    id=offering_id,
                    name=row["name"],
                    organisation=org,
                    source=row["source"],
                    provider=row.get("provider"),
                    partition=row.get("partition"),
                    regions=tuple(str(r).lower() for r in row.get("regions", [])),
                    suffixes=tuple(str(s).lower() for s in row.get("suffixes", [])),
                    notes=str(row.get("notes", "")),
                )
            )
        return cls(found, organisations)

    def _cloud(self, offering: Offering, basis: str) -> SovereignCloud:
        parents, _ = self.organisations.chain(offering.organisation)
        org = offering.organisation
        return SovereignCloud(
            offering=offering.id,
            name=offering.name,
            entity=org.entity,
            country=org.country,
            basis=basis,
            parents=parents,
            source=offering.source,
        )

    def by_name(self, name: str) -> Offering | None:
        name = name.lower().rstrip(".")
        if not name.endswith(self._dotted) and name not in self.by_suffix:
            return None  # the common case: one C-level test for every suffix
        labels = name.split(".")
        for start in range(len(labels) - 1):
            found = self.by_suffix.get(".".join(labels[start:]))
            if found is not None:
                return found
        return None

    def recognise(self, names: Sequence[str], facts: Sequence[IpFacts]) -> SovereignCloud | None:
        """The offering the endpoint runs on: a name of its CNAME chain under one of its
        suffixes (first), else an address its provider's feed places in one of its regions."""
        for name in names:
            if name.endswith(self._dotted) or name in self.by_suffix:  # rare: look closer
                offering = self.by_name(name)
                if offering is not None:
                    return self._cloud(offering, f"name {name}")
        for fact in facts:
            if fact.region is None or fact.provider not in self._providers:
                continue
            region = fact.region.lower()
            offering = self.by_region.get((fact.provider, region))
            if offering is not None:
                return self._cloud(offering, f"region {fact.provider}:{fact.region}")
        return None


@cache
def default_sovereign_clouds() -> SovereignClouds:
    return SovereignClouds.load()
