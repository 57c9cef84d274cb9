"""Control evidence for the audit: who controls each endpoint, its parents, the cloud it is on.

``ControlEvidence`` holds the shipped tables (organisations, customer domains, sovereign
clouds), the opt-in entity tables when present, and the user's ``[controllers.known]``;
``annotate(result)`` gives an endpoint result its controller (ranked by rank.py, with its
ownership chain) and the sovereign offering it runs on.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from residency.control.compiled import CompiledEntities, compile_rows, digest
from residency.control.entities import Claim, EntityIndex, TableInfo, load_index
from residency.control.names import name_key
from residency.control.organisations import (
    FILE as ORGANISATIONS_FILE,
)
from residency.control.organisations import (
    MAX_CHAIN,
    Organisation,
    Organisations,
    default_organisations,
)
from residency.control.rank import ControllerTable, controller_for
from residency.control.sovereign import SovereignClouds, default_sovereign_clouds
from residency.control.suffixes import CustomerSuffix, CustomerSuffixes, default_suffixes
from residency.model import (
    Confidence,
    Controller,
    DataVersion,
    Endpoint,
    EndpointResult,
    IpFacts,
    OwnerLink,
    ProbeResult,
    Registrant,
    Resolution,
    SovereignCloud,
)

if TYPE_CHECKING:
    from residency.control.dpf import DpfList
    from residency.control.gleif import GleifLookup

#: Parents whose answer is kept per run (a stream must stay bounded).
CACHE_LIMIT = 200_000
_CURATED = TableInfo("organisations", ORGANISATIONS_FILE, "shipped")


@dataclass(frozen=True)
class _Group:
    key: str  # organisation id, or "name:<key>" for a name no curated entry knows
    entity: str
    organisation: Organisation | None
    claims: tuple[Claim, ...]

    @property
    def newest(self) -> str:
        return max(c.table.version for c in self.claims)


class ControlEvidence:
    def __init__(
        self,
        organisations: Organisations | None = None,
        suffixes: CustomerSuffixes | None = None,
        sovereign: SovereignClouds | None = None,
        entities: EntityIndex | None = None,
        table: ControllerTable | None = None,
        sandbox_suffixes: Sequence[str] = (),
        dpf: DpfList | None = None,
        compiled: CompiledEntities | None = None,
        gleif: GleifLookup | None = None,
    ) -> None:
        self.organisations = organisations or default_organisations()
        self.suffixes = suffixes or default_suffixes()
        self.sovereign = sovereign or SovereignClouds.load(organisations=self.organisations)
        self.table = dict(table or {})
        self.sandbox = tuple("." + s.strip(".").lower() for s in sandbox_suffixes)
        self.dpf = dpf
        # --gleif: owners from GLEIF's LEI records for organisations with an LEI (opt-in)
        self.gleif = gleif
        self.notes: list[str] = []
        # answers for names one label below a parent (see from_tables)
        self._by_parent: dict[str, Controller | None] = {}
        if compiled is None:
            self.entities = entities or EntityIndex()
            compiled = self.compile(self.entities)
        else:
            self.entities = compiled.index_view()
        self.compiled = compiled

    @classmethod
    def load(
        cls,
        directory: Path | None = None,
        table: ControllerTable | None = None,
        notes: list[str] | None = None,
        gleif: GleifLookup | None = None,
    ) -> ControlEvidence:
        """The shipped tables, the entity tables in the dataset ``directory`` (merged once
        per data version and kept in its compiled/ folder) and the DPF list when
        installed; ``notes`` gets a line for anything left out."""
        from residency.control.dpf import load_dpf
        from residency.locate.hints import HintTable

        try:
            sandbox: Sequence[str] = HintTable.load(with_places=False).sandbox_suffixes
        except Exception:
            sandbox = ()
        organisations = default_organisations()
        common = (organisations, default_suffixes(), default_sovereign_clouds())
        dpf = load_dpf(directory, notes)
        cache = _cache_path(directory)
        compiled = CompiledEntities.read(cache) if cache is not None else None
        if compiled is not None:
            return cls(*common, None, table, sandbox, dpf, compiled, gleif)
        evidence = cls(*common, load_index(directory, notes), table, sandbox, dpf, gleif=gleif)
        if cache is not None:
            try:
                evidence.compiled.save(cache)
            except OSError as err:
                if notes is not None:
                    notes.append(f"entity tables merged in memory, not cached ({err.strerror})")
        return evidence

    def compile(self, index: EntityIndex) -> CompiledEntities:
        """Every listed domain's merged answer (the tables' and data/organisations.toml's)."""
        domains = set(index.domains) | set(self.organisations.by_domain)
        return compile_rows(sorted(domains), lambda d: self._merge_domain(d, index), index)

    def _merge_domain(self, domain: str, index: EntityIndex) -> Controller | None:
        claims = index.claims(domain)
        curated = self.organisations.by_domain.get(domain)
        if curated is not None:
            claims.append(Claim(curated.entity, _CURATED, domain))
        if not claims:
            return None
        keys = {self._key(c.entity) for c in claims}
        # a parent domain's tables back the answer when they name the same organisation
        for level in index.lookup_levels(domain)[1:]:
            claims += [c for c in level if self._key(c.entity) in keys]
        return self._merge(claims)

    # ------------------------------------------------------------------ names
    def _real(self, name: str) -> str:
        host = name.lower().rstrip(".")
        if not self.sandbox:
            return host
        for sandbox in self.sandbox:
            if host.endswith(sandbox):
                return host[: -len(sandbox)]
        return host

    @property
    def table_labels(self) -> tuple[str, ...]:
        return tuple(t.label for t in self.compiled.tables)

    # ------------------------------------------------------------------ chains
    def chain_of(self, entity: str) -> tuple[Organisation | None, tuple[OwnerLink, ...], str]:
        """The curated organisation for ``entity`` (if any), its parents, and why the chain
        stops short (``""`` when it is complete)."""
        org = self.organisations.find(entity)
        if org is not None:
            from_gleif = self._gleif_chain(org) if self.gleif is not None and org.lei else None
            if from_gleif is not None:
                return org, *from_gleif
            parents, short = self.organisations.chain(org)
            return org, parents, short
        links: list[OwnerLink] = []
        seen = {name_key(entity)}
        current = entity
        while len(links) < MAX_CHAIN:
            found = self.entities.parents.get(name_key(current))
            if found is None:
                break
            parent, info = found
            key = name_key(parent)
            if key in seen:
                return None, tuple(links), f"parent chain stops at a cycle ({parent} again)"
            seen.add(key)
            org = self.organisations.find(parent)
            if org is not None:  # the curated table takes over from here
                links.append(
                    OwnerLink(org.entity, org.country, f"entity-list {info.label}", org.lei)
                )
                more, short = self.organisations.chain(org)
                return None, (*links, *more)[:MAX_CHAIN], short
            country = self.entities.countries.get(key)
            links.append(
                OwnerLink(parent, country[0] if country else None, f"entity-list {info.label}")
            )
            current = parent
        else:
            return None, tuple(links), f"parent chain cut after {MAX_CHAIN} steps"
        top = links[-1].entity if links else entity
        return None, tuple(links), f"parent unknown: no table in use names an owner of {top}"

    def _gleif_chain(self, org: Organisation) -> tuple[tuple[OwnerLink, ...], str] | None:
        """GLEIF's chain above ``org`` (by its LEI), or None (the curated one is used, and a
        note says why) when GLEIF cannot answer or names another organisation."""
        assert self.gleif is not None and org.lei is not None
        record = self.gleif.record(org.lei)
        if isinstance(record, str):
            self._note(f"GLEIF not used for {org.entity}: {record}")
            return None
        names = {name_key(n) for n in (org.entity, *org.aliases)}
        if name_key(record.name) not in names:
            self._note(
                f"GLEIF not used for {org.entity}: LEI {org.lei} names {record.name}; "
                f"check {ORGANISATIONS_FILE}"
            )
            return None
        links, short = self.gleif.chain(org.lei)
        if not links and short:
            self._note(f"GLEIF not used for {org.entity}: {short}")
            return None
        return links, short

    def _note(self, text: str) -> None:
        if text not in self.notes and len(self.notes) < 100:
            self.notes.append(text)

    def close(self) -> None:
        if self.gleif is not None:
            self.gleif.close()

    def with_chain(self, controller: Controller) -> Controller:
        """``controller`` with its ownership chain and, where it lacks one, the curated
        country; the DPF status when a participant list is installed."""
        if controller.entity is None:
            return controller
        org, parents, short = self.chain_of(controller.entity)
        country = controller.country or (org.country if org else None)
        if country is None:
            known = self.entities.countries.get(name_key(controller.entity))
            country = known[0] if known else None
        found = replace(controller, country=country, parents=parents, parent_unknown=short)
        if self.dpf is not None:
            found = replace(found, dpf=self.dpf.status(found))
        return found

    # ------------------------------------------------------------------ tables
    def from_tables(self, host: str) -> Controller | None:
        """What the customer-domain and domain-owner tables say of ``host``."""
        return self._tables_answer(self._real(host))

    def _tables_answer(self, name: str) -> Controller | None:
        """``from_tables`` of a name already lower-case and out of its sandbox."""
        dot = name.find(".")
        if dot < 0:
            return None  # a single label: no listed domain (those have a suffix)
        # the host's own row, else its parent's answer: names under one parent (every
        # api<n>.example.com) share one walk and one frozen answer
        if name in self.compiled.rows:
            return self.compiled.get(name)
        parent = name[dot + 1 :]
        try:
            return self._by_parent[parent]
        except KeyError:
            found = self._below(parent)
            if len(self._by_parent) < CACHE_LIMIT:
                self._by_parent[parent] = found
            return found

    def _below(self, parent: str) -> Controller | None:
        """The answer for a name one label below ``parent`` that no row lists itself: the
        nearest listed domain from ``parent`` down, not at or above the shared customer
        suffix the name is under (there the tables name the provider)."""
        customer = self.suffixes.above_children(parent)
        limit = customer.suffix if customer is not None else None
        domain = parent
        while True:
            if limit is not None and (domain == limit or limit.endswith("." + domain)):
                break  # at or above the shared suffix, the tables name the provider
            dot = domain.find(".")
            if dot < 0:
                break  # a top-level domain is never a listed organisation's
            found = self.compiled.get(domain)
            if found is not None:
                return found
            domain = domain[dot + 1 :]
        if customer is None:
            return None
        return self._customer(customer)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one evidence object per run
    def _customer(self, suffix: CustomerSuffix) -> Controller:
        """The answer for every name under ``suffix``: one shared object."""
        provider = (
            self.organisations.by_id.get(suffix.organisation) if suffix.organisation else None
        )
        hosted = provider.entity if provider else suffix.provider_name
        return Controller(
            None,
            None,
            "customer domain",
            Confidence.NONE,
            suffix.why(),
            hosted_by=f"{hosted} ({suffix.provider_name})" if provider else hosted,
        )

    def _key(self, entity: str) -> str:
        org = self.organisations.find(entity)
        return org.id if org is not None else "name:" + name_key(entity)

    def _groups(self, claims: Sequence[Claim]) -> list[_Group]:
        grouped: dict[str, list[Claim]] = {}
        orgs: dict[str, Organisation | None] = {}
        for claim in claims:
            org = self.organisations.find(claim.entity)
            key = org.id if org is not None else "name:" + name_key(claim.entity)
            grouped.setdefault(key, []).append(claim)
            orgs[key] = org
        groups = []
        for key, found in grouped.items():
            org = orgs[key]
            groups.append(_Group(key, org.entity if org else found[0].entity, org, tuple(found)))
        return groups

    def _ancestor_keys(self, group: _Group) -> set[str]:
        if group.organisation is not None:
            return set(self.organisations.ancestors(group.organisation))
        _, parents, _ = self.chain_of(group.entity)
        keys: set[str] = set()
        for link in parents:
            org = self.organisations.find(link.entity)
            keys.add(org.id if org else "name:" + name_key(link.entity))
        return keys

    def _merge(self, claims: Sequence[Claim]) -> Controller:
        groups = self._groups(claims)
        chosen = groups[0]
        notes: list[str] = []
        if len(groups) > 1:
            ancestry = {g.key: self._ancestor_keys(g) for g in groups}
            specific = [
                g for g in groups if all(h.key == g.key or h.key in ancestry[g.key] for h in groups)
            ]
            if specific:
                chosen = specific[0]
                for other in groups:
                    if other is not chosen:
                        for claim in other.claims:
                            notes.append(
                                f"{claim.table.label} names {other.entity}, "
                                f"an owner of {chosen.entity}"
                            )
            else:
                curated = [g for g in groups if any(c.table is _CURATED for c in g.claims)]
                ranked = sorted(groups, key=lambda g: (g.newest, len(g.claims)), reverse=True)
                chosen = curated[0] if curated else ranked[0]
                for other in groups:
                    if other is not chosen:
                        for claim in other.claims:
                            notes.append(f"{claim.table.label} says {claim.entity}")
        above = self._ancestor_keys(chosen)
        supporting = [c for g in groups for c in g.claims if g is chosen or g.key in above]
        labels = list(dict.fromkeys(c.table.label for c in supporting if c.table is not _CURATED))
        sources = tuple(f"entity-list {label}" for label in labels)
        if any(c.table is _CURATED for c in supporting):
            sources += (ORGANISATIONS_FILE,)
        basis = "entity-list " + "; ".join(labels) if labels else ORGANISATIONS_FILE
        domain = claims[0].domain
        confidence = Confidence.MEDIUM if len(sources) >= 2 else Confidence.LOW
        controller = Controller(
            chosen.entity,
            chosen.organisation.country if chosen.organisation else None,
            basis,
            confidence,
            f"{domain} listed",
            sources=sources,
            disagreements=tuple(f"{domain}: {note}" for note in notes),
        )
        return self.with_chain(controller)

    # ------------------------------------------------------------------ the audit
    def decide(
        self,
        endpoint: Endpoint,
        resolutions: Sequence[Resolution],
        facts: Sequence[IpFacts],
        probes: Sequence[ProbeResult] = (),
        registrant: Registrant | None = None,
        controller: Controller | None = None,
        names: Sequence[str] | None = None,
    ) -> tuple[Controller | None, SovereignCloud | None]:
        """The endpoint's controller (``controller``, what the prober found, is kept when
        no evidence says more) and the sovereign offering it runs on. ``names``: the
        endpoint's name and its CNAME targets, when the caller has listed them already."""
        host = endpoint.host
        if endpoint.is_ip:
            return controller, self.sovereign.recognise((), facts)
        if names is None:
            names = [host]
            for resolution in resolutions:
                names.extend(resolution.cname_targets)
        real = [self._real(n) for n in names]
        if not probes and registrant is None and not self.table:
            # the common case (no probe, no --rdap, no [controllers.known]): the tables alone
            found_here = self._tables_answer(real[0])
            if found_here is not None and self.gleif is not None and found_here.entity:
                found_here = self.with_chain(found_here)
            controller = found_here or controller
        else:
            found = controller_for(host, probes, self.table, registrant, self.from_tables)
            if found.entity is not None and (not found.sources or self.gleif is not None):
                found = self.with_chain(found)  # the tables' own are chained, but by GLEIF
            if found.basis != "none" or controller is not None or probes:
                controller = found
        return controller, self.sovereign.recognise(real, facts)

    def annotate(self, result: EndpointResult) -> EndpointResult:
        """``result`` with its controller (when any evidence names or excludes one) and the
        sovereign offering it runs on."""
        controller, sovereign = self.decide(
            result.endpoint,
            result.resolutions,
            result.facts,
            result.probes,
            result.registrant,
            result.controller,
        )
        if controller is result.controller and sovereign is None:
            return result  # nothing learnt: no copy
        return replace(result, controller=controller, sovereign=sovereign)

    def data_versions(self) -> tuple[DataVersion, ...]:
        """Provenance of the control tables in use, for the audit result."""
        from residency import __version__

        shipped = tuple(
            DataVersion(name, f"residency {__version__}", origin=f"residency.data/{name}")
            for name in (ORGANISATIONS_FILE, "customer_suffixes.toml", "sovereign_clouds.toml")
        )
        tables = tuple(
            DataVersion(t.dataset, t.version, licence=t.licence or None)
            for t in self.compiled.tables
        )
        dpf = (DataVersion("dpf-participants", self.dpf.version),) if self.dpf else ()
        return shipped + tables + dpf

    def package_owner(self, package: str) -> tuple[str, TableInfo] | None:
        """The organisation an Android app package belongs to (DuckDuckGo's Android table)."""
        return self.entities.packages.get(package)

    def disagreements(self) -> list[str]:
        """Every listed domain whose tables name organisations that are not one another's
        owner, as ``domain: table date says X``."""
        return self.compiled.disagreements()


def _cache_path(directory: Path | None) -> Path | None:
    """Where the merged tables of the data in ``directory`` are kept, keyed by the entity
    datasets' hashes, the shipped organisations table and residency's version."""
    from residency import __version__
    from residency.datasets.errors import DatasetError
    from residency.datasets.manifest import load_manifest
    from residency.paths import dataset_dir, project_data_dir

    base = directory or dataset_dir()
    try:
        manifest = load_manifest(directory)
        shipped = (project_data_dir() / ORGANISATIONS_FILE).read_bytes()
    except (DatasetError, OSError):
        return None
    parts = [__version__, hashlib.sha256(shipped).hexdigest()]
    for name, entry in sorted(manifest.entries.items()):
        if entry.kind == "entity-list":
            parts += [name, entry.sha256, entry.published or entry.version, entry.fetched or ""]
    return base / "compiled" / f"control-{digest(parts)}.msgpack"
