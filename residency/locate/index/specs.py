"""Source specs: which datasets an index is compiled from, and reading each into a layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from residency import paths
from residency.locate.errors import LocateError
from residency.model import DataVersion, EvidenceKind

if TYPE_CHECKING:
    from residency.locate.index.build import LayerBuilder


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
    from residency.datasets.manifest import UNLOCATED_KINDS, load_manifest

    manifest = load_manifest(directory)
    specs = []
    for dataset_id in sorted(manifest.entries):
        entry = manifest.entries[dataset_id]
        if entry.kind in UNLOCATED_KINDS:
            continue  # no ranges: the RDAP bootstrap is read by the domain lookups
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
    """GeoIP files named by ``--geoip`` or ``$RESIDENCY_GEOIP`` (e.g. GeoLite2 from geoipupdate).

    The record layout is detected per file (``mmdb_layout``); one that gives both a
    country and an ASN (IPinfo Lite) becomes two sources over the same file. A file
    in no known layout is a ``LocateError`` naming it.
    """
    named = [*extra, *paths.user_geoip_files()]
    if not named:
        return []
    from residency.locate.index.mmdb_layout import MmdbLayoutError, detect_layout

    specs = []
    for path in named:
        if not path.is_file():
            raise LocateError(f"{path}: GeoIP database not found")
        try:
            layout, db_type = detect_layout(path)
        except MmdbLayoutError as err:
            raise LocateError(str(err)) from err
        stat = path.stat()
        version = f"{db_type} mtime {int(stat.st_mtime)}"
        dataset = f"user:{path.stem}"
        data_version = DataVersion(
            dataset=dataset,
            version=version,
            origin=f"{path} ({layout.name} layout)",
            licence=layout.licence or None,
            attribution=layout.attribution or None,
        )
        wanted = (("mmdb-country", layout.country), ("mmdb-asn", layout.asn))
        for i, kind in enumerate(kind for kind, gives in wanted if gives):
            specs.append(
                SourceSpec(
                    dataset=dataset,
                    kind=kind,
                    version=version,
                    files=(path,),
                    data_version=data_version if i == 0 else None,
                )
            )
    return specs


@dataclass(frozen=True)
class LayerPlan:
    """One layer of an index to be: its id, the digest of what it is read from (the
    same digest means the same layer, so an incremental compile keeps it), and how to
    read it."""

    layer_id: str
    key: str
    spec: SourceSpec | None  # None: a project table (special-purpose, documented anycast)


def layer_id_of(spec: SourceSpec) -> str:
    """The index layer id a source becomes."""
    if spec.kind == "mmdb-country":
        return f"geoip:{spec.dataset}"
    if spec.kind in ("mmdb-asn", "asn-csv"):
        return f"asn:{spec.dataset}"
    return spec.dataset


def layer_plans(specs: Sequence[SourceSpec]) -> list[LayerPlan]:
    """Every layer an index over ``specs`` holds, in order: the project tables first."""
    from residency.datasets.anycast_table import DOCUMENTED_ANYCAST_LAYER, FILE_NAME
    from residency.locate.index.read import SPECIAL_LAYER
    from residency.locate.index.stamp import source_key, table_key

    data = paths.project_data_dir()
    regions = table_key(sorted((data / "regions").glob("*.csv")))
    plans = [
        LayerPlan(SPECIAL_LAYER, table_key([data / "special-purpose.csv"]), None),
        LayerPlan(DOCUMENTED_ANYCAST_LAYER, table_key([data / FILE_NAME]), None),
    ]
    for spec in specs:
        uses_regions = spec.kind not in ("mmdb-country", "mmdb-asn", "asn-csv")
        key = source_key(spec, regions if uses_regions else "")
        plans.append(LayerPlan(layer_id_of(spec), key, spec))
    return plans


def build_layer(plan: LayerPlan) -> LayerBuilder:
    """Read one layer from its source. A bad source is an error naming it."""
    from residency.datasets.anycast_table import DOCUMENTED_ANYCAST_LAYER, anycast_services
    from residency.datasets.interface import RangeRecord
    from residency.datasets.parsers import PARSERS
    from residency.datasets.regions import RegionTable
    from residency.locate.index.layers import (
        FEED_KINDS,
        LayerError,
        asn_csv_layer,
        documented_anycast_layer,
        feed_layer,
        mmdb_asn_layer,
        mmdb_country_layer,
        special_purpose_layer,
    )

    spec = plan.spec
    if spec is None:
        if plan.layer_id == DOCUMENTED_ANYCAST_LAYER:
            return documented_anycast_layer(anycast_services())
        return special_purpose_layer(paths.project_data_dir() / "special-purpose.csv")
    if spec.kind == "mmdb-country":
        return mmdb_country_layer(plan.layer_id, spec.version, spec.files)
    if spec.kind == "mmdb-asn":
        return mmdb_asn_layer(plan.layer_id, spec.version, spec.files)
    if spec.kind == "asn-csv":
        blobs = [(str(f), f.read_bytes()) for f in spec.files]
        return asn_csv_layer(plan.layer_id, spec.version, blobs)
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
    return feed_layer(spec.dataset, kind, version, records, RegionTable.load().place_of)


def build_layers(specs: Sequence[SourceSpec]) -> list[LayerBuilder]:
    """Read every source into a layer. One bad source is an error naming it."""
    return [build_layer(plan) for plan in layer_plans(specs)]
