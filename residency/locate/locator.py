"""IP -> facts with evidence: loads (compiling when stale) the index and merges claims."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from residency import paths
from residency.addresses import Address, AddressError, parse_address
from residency.digest import sha256
from residency.locate.errors import InvalidAddress, LocateError
from residency.locate.index.read import SPECIAL_LAYER, CompiledIndex, IndexError_
from residency.locate.index.specs import SourceSpec, manifest_sources, user_geoip_sources
from residency.locate.index.stamp import compile_stamp, recompile
from residency.locate.trust.calibration import Calibration, calibration_for, shipped_calibration
from residency.locate.trust.merge import ProviderLookup, claim_evidence, merge_facts, not_routable
from residency.model import DataVersion, Evidence, EvidenceKind, IpFacts, Registration

if TYPE_CHECKING:  # bulk enrichment only: a single lookup never loads it
    from residency.locate.index.summary import Enrichment, Summary


def _log_warning(message: str) -> None:
    """How a rebuild is announced when the caller gives no ``notify`` (the CLI passes
    one): a warning of the ``residency.locate`` logger, imported only then."""
    import logging

    logging.getLogger("residency.locate").warning(message)


class Locator:
    """Answers "where is this address and who runs it" from the compiled index."""

    def __init__(
        self,
        index: CompiledIndex,
        data_versions: Sequence[DataVersion] = (),
        registry: ProviderLookup | None = None,
        calibration: Calibration | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.index = index
        self._say = notify or _log_warning
        self._versions = tuple(data_versions)
        self._registry = registry
        self.calibration = calibration or shipped_calibration()
        self._templates: dict[int, IpFacts] = {}
        self._summary_cache: Summary | None = None
        self._special = next(
            (i for i, layer in enumerate(index.layers) if layer.layer_id == SPECIAL_LAYER), -1
        )

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        dataset_dir: Path | None = None,
        geoip: Sequence[Path] = (),
        sources: Sequence[SourceSpec] | None = None,
        compiled_dir: Path | None = None,
        with_operators: bool = True,
        notify: Callable[[str], None] | None = None,
    ) -> Locator:
        """Load the index for the datasets in place, compiling it first when stale or
        damaged (announced through ``notify``, one line, e.g. the CLI's stderr)."""
        directory = dataset_dir or paths.dataset_dir()
        if sources is not None:
            specs = list(sources)
        else:
            specs = manifest_sources(directory) + user_geoip_sources(geoip)
        if not specs:
            raise LocateError(
                f"{directory}: no datasets in place; run 'residency data update' "
                "(or 'residency data import FILE...')"
            )
        target = compiled_dir or directory / "compiled"
        stamp = compile_stamp(specs, paths.project_data_dir() / "regions")
        say = notify or _log_warning
        index: CompiledIndex | None = None
        why = ""
        if CompiledIndex.read_stamp(target) != stamp:
            why = "missing" if not (target / "meta.json").exists() else "out of date"
        else:
            try:
                index = CompiledIndex(target)
            except IndexError_ as err:
                why = f"damaged: {err}"
        compiled_now = index is None
        if index is None:
            recompile(specs, target, stamp, why, say)
            index = CompiledIndex(target)
        versions = [s.data_version for s in specs if s.data_version is not None]
        locator = cls(
            index,
            versions,
            _operators(target) if with_operators else None,
            calibration_for(directory),
            say,
        )
        if compiled_now and with_operators:
            locator.merge_all()
        return locator

    def data_versions(self) -> tuple[DataVersion, ...]:
        """The datasets' versions, then the calibration table's (what its answers'
        confidence was measured on)."""
        return (*self._versions, self.calibration.data_version())

    # ------------------------------------------------------------------ lookups
    def _template(self, combo: int) -> IpFacts:
        found = self._templates.get(combo)
        if found is None:
            found = self._build(combo, "", ())
            self._templates[combo] = found
        return found

    def _evidence(self, combo: int) -> tuple[list[Evidence], str | None]:
        evidence: list[Evidence] = []
        special: str | None = None
        for layer_idx, claim_id in self.index.combo_claims(combo):
            claim = self.index.claim(layer_idx, claim_id)
            if layer_idx == self._special:
                special = str(claim.get("bogon"))
                continue
            evidence.append(claim_evidence(self.index.layers[layer_idx], claim))
        return evidence, special

    def _merged(self, combo: int) -> IpFacts:
        """The merged facts of one combo id, built afresh (not kept as a template)."""
        return self._build(combo, "", ())

    def _build(
        self,
        combo: int,
        ip: str,
        hints: Sequence[Evidence],
        registration: Registration | None = None,
        extra: Sequence[Evidence] = (),
    ) -> IpFacts:
        evidence, special = self._evidence(combo)
        if special is not None:
            return not_routable(ip, special)
        evidence.extend(extra)
        return merge_facts(
            ip,
            evidence,
            hints,
            self._registry,
            registration,
            self.calibration,
            self.index.family_of(combo),
        )

    def locate(
        self,
        ip: str,
        hints: Sequence[Evidence] = (),
        registration: Registration | None = None,
        extra: Sequence[Evidence] = (),
    ) -> IpFacts:
        """Facts about one address. Raises InvalidAddress for a non-address. ``extra`` is
        evidence found outside the dataset (a geofeed an RDAP registration links)."""
        address = canonical_address(ip)
        canonical = address.text
        inner = embedded_ipv4_text(canonical)
        combo = self.index.combo_of(inner[0] if inner else canonical)
        if not hints and registration is None and not extra:
            facts = with_ip(self._template(combo), canonical)
        else:
            facts = self._build(combo, canonical, hints, registration, extra)
        if inner is not None:
            facts = _noted_embedded(facts, *inner)
        elif facts.routable and ":" in canonical:
            facts = _allocated_or_not(facts, canonical)
        return facts if address.zone is None else _noted_zone(facts, address.zone)

    def locate_many(self, ips: Iterable[str]) -> list[IpFacts]:
        """Facts for many addresses (invalid ones raise InvalidAddress naming the first)."""
        items = list(ips)
        combos = self.combos(items)
        return [self.facts_at(ip, int(combo)) for ip, combo in zip(items, combos, strict=True)]

    def facts_at(self, ip: str, combo: int) -> IpFacts:
        """The facts of ``ip`` whose combo id is already known (bulk paths)."""
        if ":" in ip and embedded_ipv4_text(ip) is not None:
            return self.locate(ip)  # with the note saying which IPv4 answered
        facts = with_ip(self._template(combo), ip)
        if facts.routable and ":" in ip:
            return _allocated_or_not(facts, ip)
        return facts

    def combos(self, ips: Sequence[str], chunk: int = 65536) -> Any:
        """Vectorised: the combo id of every address (the hot path of bulk enrichment).
        Works in chunks so the temporaries stay small however many addresses come."""
        import numpy as np

        from residency.locate.index.build import address_keys

        out = np.empty(len(ips), dtype=np.int32)
        for start in range(0, len(ips), chunk):
            part = ips[start : start + chunk]
            fast = _ipv4_keys(part)
            if fast is not None:  # the common case: all IPv4, parsed at C speed
                out[start : start + len(part)] = self.index.combo_of_v4(fast)
                continue
            keys = address_keys(part)
            if keys.bad:  # spellings the fast keys refuse: the one parser decides
                bad = set(keys.bad)
                part = [canonical_address(t).text if i in bad else t for i, t in enumerate(part)]
                keys = address_keys(part)
            view = out[start : start + len(part)]
            if keys.pos4:
                view[keys.pos4] = self.index.combo_of_v4(np.array(keys.key4, dtype=np.uint32))
            if keys.pos6:
                view[keys.pos6] = self.index.combo_of_v6(
                    np.array(keys.hi6, dtype=np.uint64), np.array(keys.lo6, dtype=np.uint64)
                )
        return out

    def enrich(self, ips: Sequence[str]) -> Enrichment:
        """Bulk enrichment with every source on: the merged answer for each address as
        columns (country, provider, region, ASN, flags), from a per-combination summary
        computed once when the index is compiled. Full IpFacts with evidence come from
        ``Enrichment.facts(i)`` on demand."""
        from residency.locate.index.summary import Enrichment

        summary = self._summary()
        combos = self.combos(ips)
        return Enrichment(
            ips=ips,
            combos=combos,
            summary=summary,
            facts_at=self.facts_at,
            unallocated=_unallocated_mask(ips),
        )

    def merge_all(self) -> None:
        """Merge every combination now (the summary bulk enrichment reads), not at first use."""
        self._summary()

    def _summary(self) -> Summary:
        from residency.locate.index.summary import Summary

        if self._summary_cache is None:
            self.index.verify()  # bulk use: every byte checked once, not just samples
            directory = self.index.directory
            digest = self.calibration.digest
            found = Summary.load(directory, digest)
            if found is None:
                combos = self.index.sizes()["combos"]
                before = Summary.merged_with(directory)
                if before is not None and before != digest:
                    self._say(
                        f"the calibration table changed ({before} to {digest}): merging the "
                        f"index's {combos} combinations again (the index itself is kept)"
                    )
                carried = Summary.carried(directory, digest)
                found = Summary.build(directory, combos, self._merged, digest, carried)
            self._summary_cache = found
        return self._summary_cache

    def prefix_for_country(self, country: str) -> str | None:
        """A routable /24 that the GeoIP consensus puts in ``country`` (for ECS vantage)."""
        country = country.upper()
        index = self.index
        geo_layers = {
            i for i, layer in enumerate(index.layers) if layer.kind == EvidenceKind.GEOIP.value
        }
        wanted = {
            (i, cid)
            for i in geo_layers
            for cid, claim in enumerate(index.claims(i))
            if claim.get("cc") == country
        }
        if not wanted:
            return None
        return index.v4_prefix_with(wanted, exclude_layer=self._special)

    def layer_summary(self) -> list[dict[str, Any]]:
        return [
            {"id": layer.layer_id, "kind": layer.kind, "version": layer.version}
            for layer in self.index.layers
        ]


def _ipv4_keys(part: Sequence[str]) -> Any:
    """Integer keys for a chunk that is all dotted-quad IPv4, or None to take the slow path.
    ``inet_pton`` (not ``inet_aton``) because it holds the rules of ``residency.addresses``:
    four decimal parts, no leading zeros, no shorthand."""
    import socket
    from itertools import repeat

    import numpy as np

    try:
        packed = b"".join(map(socket.inet_pton, repeat(socket.AF_INET, len(part)), part))
    except (OSError, TypeError):
        return None
    return np.frombuffer(packed, dtype=">u4").astype(np.uint32)


def _v4(n: int) -> str:
    return ".".join(str((n >> s) & 255) for s in (24, 16, 8, 0))


def with_ip(template: IpFacts, ip: str) -> IpFacts:
    """A copy of a per-combination template for one address. Frozen dataclasses make
    ``dataclasses.replace`` re-run every field's ``__setattr__``: seven times slower,
    and this runs once per address in an audit."""
    facts: IpFacts = object.__new__(IpFacts)
    facts.__dict__.update(template.__dict__)
    object.__setattr__(facts, "ip", ip)
    return facts


#: The IPv6 forms that carry an IPv4 address, and how the note names them.
_EMBEDDING = (("::ffff:0:0/96", "IPv4-mapped (RFC 4291)"), ("64:ff9b::/96", "NAT64 (RFC 6052)"))


def embedded_ipv4_text(ip: str) -> tuple[str, str, str] | None:
    """(IPv4 address, prefix, what) for an IPv4-mapped or NAT64 address, else None."""
    if ":" not in ip:
        return None
    import socket

    from residency.locate.index.read import embedded_ipv4

    try:
        value = int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), "big")
    except OSError:
        return None
    inner = embedded_ipv4(value)
    if inner is None:
        return None
    prefix, what = _EMBEDDING[0] if value >> 32 == 0xFFFF else _EMBEDDING[1]
    return _v4(inner), prefix, what


def _noted_embedded(facts: IpFacts, inner: str, prefix: str, what: str) -> IpFacts:
    """Say, in the evidence and the location's why, that the embedded IPv4 answered."""
    from dataclasses import replace

    note = f"{what} address: located as its embedded IPv4 {inner}"
    evidence = Evidence(
        source=SPECIAL_LAYER,
        kind=EvidenceKind.REGISTRATION,
        version="rfc6890-2026-11",
        prefix=prefix,
        note=note,
    )
    location = replace(facts.location, why=f"{facts.location.why} ({note})")
    return replace(facts, location=location, evidence=(evidence, *facts.evidence))


def _noted_zone(facts: IpFacts, zone: str) -> IpFacts:
    """Say that the zone id written after the address was dropped, and why."""
    from dataclasses import replace

    note = f"zone id %{zone} dropped: it names an interface of this host, not a place"
    return replace(facts, location=replace(facts.location, why=f"{facts.location.why} ({note})"))


def canonical_address(text: str) -> Address:
    """``residency.addresses.parse_address``, failing as this stage's InvalidAddress."""
    try:
        return parse_address(text)
    except AddressError as err:
        raise InvalidAddress(str(err)) from None


def _operators(compiled: Path) -> ProviderLookup:
    """The provider registry (data/providers.toml): ASN -> provider -> jurisdiction,
    its parse cached in the compiled index folder."""
    from residency.locate.providers import ProviderRegistry

    return ProviderRegistry.load(cache_dir=compiled)


def load_subset(
    dataset_dir: Path | None,
    geoip: Sequence[Path],
    wanted: Sequence[str],
    notify: Callable[[str], None] | None = None,
) -> Locator:
    """A locator over only the named datasets (``--source``); unknown ids are an error."""
    directory = dataset_dir or paths.dataset_dir()
    specs = manifest_sources(directory) + user_geoip_sources(geoip)
    known = {s.dataset for s in specs}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise LocateError(
            f"unknown --source {', '.join(unknown)}; datasets in place: {', '.join(sorted(known))}"
        )
    chosen = [s for s in specs if s.dataset in wanted]
    key = sha256("|".join(sorted(wanted)).encode()).hexdigest()[:12]
    return Locator.load(
        directory, (), chosen, compiled_dir=directory / f"compiled-{key}", notify=notify
    )


def _unallocated_mask(ips: Sequence[str]) -> Any:
    """numpy bool per address: True for IPv6 space no registry has allocated; None when
    no address is (the all-IPv4 common case costs one scan for ':')."""
    import numpy as np

    mask = None
    for i, ip in enumerate(ips):
        if ":" not in ip or embedded_ipv4_text(ip) is not None:
            continue  # an embedded IPv4 address is answered for by that address
        if _unallocated(ip) is not None:
            if mask is None:
                mask = np.zeros(len(ips), dtype=bool)
            mask[i] = True
    return mask


def _unallocated(ip: str) -> str | None:
    """Why no RIR holds the IPv6 address ``ip``; None when one does, or it is not IPv6."""
    import ipaddress

    from residency.locate.allocation import unallocated_reason

    try:
        address = ipaddress.IPv6Address(ip.split("%", 1)[0])
    except ValueError:
        return None
    return unallocated_reason(address)


def _allocated_or_not(facts: IpFacts, ip: str) -> IpFacts:
    """``facts``, or "not routable" when no RIR holds the IPv6 address (whatever a GeoIP
    database says: it places unallocated space too)."""
    reason = _unallocated(ip)
    return facts if reason is None else not_routable(facts.ip or ip, reason)
