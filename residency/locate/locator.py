"""IP -> facts with evidence: loads (compiling when stale) the index and merges claims."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from residency import paths
from residency.errors import ResidencyError
from residency.locate.calibration import Calibration, calibration_for, shipped_calibration
from residency.locate.compiled import (
    SPECIAL_LAYER,
    CompiledIndex,
    IndexDamaged,
    IndexError_,
    file_checksums,
    verify_files,
)
from residency.locate.merge import ProviderLookup, claim_evidence, merge_facts, not_routable
from residency.model import DataVersion, Evidence, EvidenceKind, IpFacts, Registration

if TYPE_CHECKING:
    from residency.locate.index import LayerBuilder


#: Bumped when parsing changes what a layer holds (2: geofeed rows checked as ISO 3166;
#: 4: the 128-bit IPv6 table and per-file checksums; 5: AWS GLOBAL CloudFront no longer
#: anycast, measured anycast layer), so an older index is rebuilt, not trusted.
COMPILER_VERSION = "5"
#: How a rebuild is announced when the caller gives no ``notify`` (the CLI passes one).
_log = logging.getLogger("residency.locate")


class LocateError(ResidencyError):
    """Locating failed as a whole (no dataset, unreadable index)."""


class InvalidAddress(LocateError):
    """An input that is not an IPv4 or IPv6 address."""


@dataclass(frozen=True)
class SourceSpec:
    """One dataset to compile: where its files are and how to read them."""

    dataset: str
    kind: str  # feed | geofeed | cloudip | mmdb-country | mmdb-asn | asn-csv
    version: str
    files: tuple[Path, ...]
    parser: str | None = None
    data_version: DataVersion | None = None


def manifest_sources(directory: Path) -> list[SourceSpec]:
    """The datasets recorded in the manifest of ``directory``."""
    from residency.datasets.manifest import load_manifest

    manifest = load_manifest(directory)
    specs = []
    for dataset_id in sorted(manifest.entries):
        entry = manifest.entries[dataset_id]
        specs.append(
            SourceSpec(
                dataset=dataset_id,
                kind=entry.kind,
                version=entry.version,
                files=entry.file_paths(directory),
                parser=entry.parser,
                data_version=entry.data_version(),
            )
        )
    return specs


def user_geoip_sources(extra: Sequence[Path] = ()) -> list[SourceSpec]:
    """GeoIP files named by ``--geoip`` or ``$RESIDENCY_GEOIP`` (e.g. GeoLite2 from geoipupdate)."""
    from residency.paths import user_geoip_files

    named = [*extra, *user_geoip_files()]
    specs = []
    for path in named:
        if not path.is_file():
            raise LocateError(f"{path}: GeoIP database not found")

        from residency.locate.layers import mmdb_database_type

        db_type = mmdb_database_type(path)
        kind = "mmdb-asn" if "ASN" in db_type.upper() else "mmdb-country"
        stat = path.stat()
        version = f"{db_type} mtime {int(stat.st_mtime)}"
        dataset = f"user:{path.stem}"
        specs.append(
            SourceSpec(
                dataset=dataset,
                kind=kind,
                version=version,
                files=(path,),
                data_version=DataVersion(dataset=dataset, version=version, origin=str(path)),
            )
        )
    return specs


def _stamp(specs: Sequence[SourceSpec], regions_dir: Path) -> str:
    h = hashlib.sha256(COMPILER_VERSION.encode())
    for spec in specs:
        h.update(f"{spec.dataset}|{spec.kind}|{spec.version}|{spec.parser}".encode())
        recorded = spec.data_version.sha256 if spec.data_version else None
        for f in spec.files:
            # no absolute path: a dataset folder that moved (or is mounted read-only
            # elsewhere) keeps its index; the manifest's digest identifies the content
            st = f.stat()
            identity = recorded or str(st.st_mtime_ns)
            h.update(f"{f.name}|{st.st_size}|{identity}".encode())
    data = paths.project_data_dir()
    tables = [
        *sorted(regions_dir.glob("*.csv")),
        data / "special-purpose.csv",
        data / "providers.toml",
    ]
    for table in tables:
        h.update(table.read_bytes())
    return h.hexdigest()[:20]


def build_layers(specs: Sequence[SourceSpec]) -> list[LayerBuilder]:
    """Read every source into a layer. One bad source is an error naming it."""
    from residency.datasets.interface import RangeRecord
    from residency.datasets.parsers import PARSERS
    from residency.datasets.regions import RegionTable
    from residency.locate.layers import (
        FEED_KINDS,
        LayerError,
        asn_csv_layer,
        feed_layer,
        mmdb_asn_layer,
        mmdb_country_layer,
        special_purpose_layer,
    )

    regions = RegionTable.load()
    builders = [special_purpose_layer(paths.project_data_dir() / "special-purpose.csv")]
    for spec in specs:
        if spec.kind in ("mmdb-country",):
            builders.append(mmdb_country_layer(f"geoip:{spec.dataset}", spec.version, spec.files))
        elif spec.kind == "mmdb-asn":
            builders.append(mmdb_asn_layer(f"asn:{spec.dataset}", spec.version, spec.files))
        elif spec.kind == "asn-csv":
            blobs = [(str(f), f.read_bytes()) for f in spec.files]
            builders.append(asn_csv_layer(f"asn:{spec.dataset}", spec.version, blobs))
        else:
            parser = PARSERS.get(spec.parser or spec.dataset)
            if parser is None:
                raise LayerError(f"{spec.dataset}: no parser named {spec.parser!r}")
            records: list[RangeRecord] = []
            version = spec.version
            for f in spec.files:
                parsed = parser(f.read_bytes())
                records.extend(parsed.records)
                version = spec.version or parsed.version
            kind = FEED_KINDS.get(spec.kind, EvidenceKind.PROVIDER_FEED)
            builders.append(feed_layer(spec.dataset, kind, version, records, regions.place_of))
    return builders


def _compile(
    specs: Sequence[SourceSpec], target: Path, stamp: str, why: str, say: Callable[[str], None]
) -> None:
    """Rebuild the index, or say how to when its folder cannot be written."""
    from residency.locate.index import compile_index

    parent = target.parent
    if not os.access(parent if parent.exists() else parent.parent, os.W_OK):
        raise IndexDamaged(
            f"{target}: compiled index {why or 'needs rebuilding'}, and {parent} is read-only; "
            "rebuild it where it can be written (any 'residency ip ADDRESS' run with write "
            "access to that folder does it), or point RESIDENCY_DATA_DIR at a writable copy"
        )
    if why != "missing":
        say(f"compiled index {why}; rebuilding {target} (takes a while)")
    try:
        compile_index(build_layers(specs), target, stamp)
    except OSError as err:
        raise LocateError(f"{target}: cannot write the compiled index ({err})") from err


class Locator:
    """Answers "where is this address and who runs it" from the compiled index."""

    def __init__(
        self,
        index: CompiledIndex,
        data_versions: Sequence[DataVersion] = (),
        registry: ProviderLookup | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.index = index
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
        stamp = _stamp(specs, paths.project_data_dir() / "regions")
        say = notify or _log.warning
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
            _compile(specs, target, stamp, why, say)
            index = CompiledIndex(target)
        versions = [s.data_version for s in specs if s.data_version is not None]
        locator = cls(
            index, versions, _operators() if with_operators else None, calibration_for(directory)
        )
        if compiled_now and with_operators:
            locator.merge_all()
        return locator

    def data_versions(self) -> tuple[DataVersion, ...]:
        return self._versions

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

    def _build(
        self,
        combo: int,
        ip: str,
        hints: Sequence[Evidence],
        registration: Registration | None = None,
    ) -> IpFacts:
        evidence, special = self._evidence(combo)
        if special is not None:
            return not_routable(ip, special)
        return merge_facts(ip, evidence, hints, self._registry, registration, self.calibration)

    def locate(
        self,
        ip: str,
        hints: Sequence[Evidence] = (),
        registration: Registration | None = None,
    ) -> IpFacts:
        """Facts about one address. Raises InvalidAddress for a non-address."""
        canonical = canonical_ip(ip)
        inner = embedded_ipv4_text(canonical)
        combo = self.index.combo_of(inner[0] if inner else canonical)
        if not hints and registration is None:
            facts = with_ip(self._template(combo), canonical)
        else:
            facts = self._build(combo, canonical, hints, registration)
        return facts if inner is None else _noted_embedded(facts, *inner)

    def locate_many(self, ips: Iterable[str]) -> list[IpFacts]:
        """Facts for many addresses (invalid ones raise InvalidAddress naming the first)."""
        items = list(ips)
        combos = self.combos(items)
        out = []
        for ip, combo in zip(items, combos, strict=True):
            if ":" in ip and embedded_ipv4_text(ip) is not None:
                out.append(self.locate(ip))  # with the note saying which IPv4 answered
            else:
                out.append(with_ip(self._template(int(combo)), ip))
        return out

    def combos(self, ips: Sequence[str], chunk: int = 65536) -> Any:
        """Vectorised: the combo id of every address (the hot path of bulk enrichment).
        Works in chunks so the temporaries stay small however many addresses come."""
        import numpy as np

        from residency.locate.index import address_keys

        out = np.empty(len(ips), dtype=np.int32)
        for start in range(0, len(ips), chunk):
            part = ips[start : start + chunk]
            fast = _ipv4_keys(part)
            if fast is not None:  # the common case: all IPv4, parsed at C speed
                out[start : start + len(part)] = self.index.combo_of_v4(fast)
                continue
            keys = address_keys(part)
            if keys.bad:
                raise InvalidAddress(f"{part[keys.bad[0]]!r} is not an IPv4 or IPv6 address")
            view = out[start : start + len(part)]
            if keys.pos4:
                view[keys.pos4] = self.index.combo_of_v4(np.array(keys.key4, dtype=np.uint64))
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
        summary = self._summary()
        combos = self.combos(ips)
        return Enrichment(ips=ips, combos=combos, summary=summary, locator=self)

    def merge_all(self) -> None:
        """Merge every combination now (the summary bulk enrichment reads), not at first use."""
        self._summary()

    def _summary(self) -> Summary:
        if self._summary_cache is None:
            self.index.verify()  # bulk use: every byte checked once, not just samples
            self._summary_cache = Summary.load(
                self.index.directory, self.calibration.digest
            ) or Summary.build(self)
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


#: Summary flag bits.
ROUTABLE, ANYCAST, CDN, DISAGREE = 1, 2, 4, 8
#: Summary confidence codes: index into this tuple.
CONFIDENCE_LEVELS = ("none", "low", "medium", "high")


class Summary:
    """Per-combination merged answers as arrays (one row per combo id), so bulk
    enrichment is an index lookup, not a merge. Written beside the compiled index."""

    FILES = ("country", "provider", "region", "asn", "flags", "confidence")

    def __init__(self, arrays: dict[str, Any], tables: dict[str, list[str]]) -> None:
        self.arrays = arrays
        self.tables = tables

    @classmethod
    def load(cls, directory: Path, calibration: str) -> Summary | None:
        """The summary in ``directory`` if it was merged with this calibration digest."""
        import numpy as np

        try:
            doc = json.loads((directory / "summary.json").read_text())
            if doc.get("calibration") != calibration:
                return None  # merged with other weights: merged again
            verify_files(directory, doc["files"], full=True)
            tables = doc["tables"]
            arrays = {n: np.load(directory / f"summary-{n}.npy") for n in cls.FILES}
        except (OSError, ValueError, KeyError, TypeError, IndexDamaged):
            return None  # rebuilt from the (verified) index
        return cls(arrays, tables)

    @classmethod
    def build(cls, locator: Locator) -> Summary:
        """Merge every combination once (tens of thousands, not millions)."""
        import numpy as np

        n = locator.index.sizes()["combos"]
        tables: dict[str, list[str]] = {"country": [""], "provider": [""], "region": [""]}
        ids: dict[str, dict[str, int]] = {k: {"": 0} for k in tables}

        def intern(kind: str, value: str | None) -> int:
            key = value or ""
            found = ids[kind].get(key)
            if found is None:
                found = ids[kind][key] = len(tables[kind])
                tables[kind].append(key)
            return found

        country = np.zeros(n, dtype=np.int16)
        provider = np.zeros(n, dtype=np.int16)
        region = np.zeros(n, dtype=np.int32)
        asn = np.zeros(n, dtype=np.int64)
        flags = np.zeros(n, dtype=np.uint8)
        confidence = np.zeros(n, dtype=np.uint8)
        for combo in range(n):
            facts = locator._build(combo, "", ())
            country[combo] = intern("country", facts.location.country)
            provider[combo] = intern("provider", facts.provider)
            region[combo] = intern("region", facts.region)
            asn[combo] = facts.asn or 0
            flags[combo] = (
                (ROUTABLE if facts.routable else 0)
                | (ANYCAST if facts.anycast else 0)
                | (CDN if facts.cdn else 0)
                | (DISAGREE if facts.disagreements else 0)
            )
            confidence[combo] = CONFIDENCE_LEVELS.index(facts.location.confidence.value)
        arrays: dict[str, Any] = {
            "country": country,
            "provider": provider,
            "region": region,
            "asn": asn,
            "flags": flags,
            "confidence": confidence,
        }
        directory = locator.index.directory
        if os.access(directory, os.W_OK):  # a read-only dataset keeps it in memory only
            files = {}
            for name, array in arrays.items():
                np.save(directory / f"summary-{name}.npy", array)
                files[f"summary-{name}.npy"] = file_checksums(directory / f"summary-{name}.npy")
            tmp = directory / "summary.json.tmp"
            doc = {"tables": tables, "files": files, "calibration": locator.calibration.digest}
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, directory / "summary.json")  # written last: marks it complete
        return cls(arrays, tables)


@dataclass(frozen=True)
class Enrichment:
    """The merged answer for many addresses, as columns; ``facts(i)`` gives the full story."""

    ips: Sequence[str]
    combos: Any  # numpy int32 array, one combo id per address
    summary: Summary
    locator: Locator

    def __len__(self) -> int:
        return len(self.ips)

    def column(self, name: str) -> Any:
        """A numpy column per address: country/provider/region (strings), asn, flags."""
        import numpy as np

        values = self.summary.arrays[name][self.combos]
        table = self.summary.tables.get(name)
        if table is None:
            return values
        return np.asarray(table, dtype=object)[values]

    def facts(self, i: int) -> IpFacts:
        ip = self.ips[i]
        if ":" in ip and embedded_ipv4_text(ip) is not None:
            return self.locator.locate(ip)
        return with_ip(self.locator._template(int(self.combos[i])), ip)


def _ipv4_keys(part: Sequence[str]) -> Any:
    """Integer keys for a chunk that is all dotted-quad IPv4, or None to take the slow path.
    ``inet_aton`` also accepts "1.2" or "1", so the dots are counted too."""
    import socket
    from itertools import repeat

    import numpy as np

    try:
        packed = b"".join(map(socket.inet_aton, part))
    except (OSError, TypeError):
        return None
    if sum(map(str.count, part, repeat("."))) != 3 * len(part):
        return None
    return np.frombuffer(packed, dtype=">u4").astype(np.uint64)


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

    from residency.locate.compiled import embedded_ipv4

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


def canonical_ip(text: str) -> str:
    """The canonical text of an address (RFC 5952 for IPv6), or InvalidAddress naming it."""
    import socket

    candidate = text.strip().strip("[]")
    try:
        if ":" in candidate:
            return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, candidate))
        if candidate.count(".") == 3 and all(
            part.isdigit() and len(part) <= 3 and (part == "0" or not part.startswith("0"))
            for part in candidate.split(".")
        ):
            return socket.inet_ntoa(socket.inet_aton(candidate))
    except (OSError, ValueError):
        pass
    raise InvalidAddress(f"{text!r} is not an IPv4 or IPv6 address")


def _operators() -> ProviderLookup:
    """The provider registry (data/providers.toml): ASN -> provider -> jurisdiction."""
    from residency.locate.providers import ProviderRegistry

    return ProviderRegistry.load()


def facts_to_json(facts: IpFacts) -> dict[str, Any]:
    """A plain-JSON view of IpFacts (used by ``residency ip --json``)."""
    import orjson

    # orjson serialises nested frozen dataclasses and enums natively, without the
    # asdict deep copy; str covers any stray non-JSON value as the old path did.
    return orjson.loads(orjson.dumps(facts, default=str))  # type: ignore[no-any-return]


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
    key = hashlib.sha256("|".join(sorted(wanted)).encode()).hexdigest()[:12]
    return Locator.load(
        directory, (), chosen, compiled_dir=directory / f"compiled-{key}", notify=notify
    )
