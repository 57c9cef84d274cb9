"""The compile stamp (what an index was built from) and the rebuild when it is stale."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from residency import paths
from residency.digest import sha256
from residency.locate.errors import LocateError
from residency.locate.index.read import IndexDamaged
from residency.locate.index.specs import SourceSpec, build_layer, layer_plans

#: Bumped when parsing changes what a layer holds (2: geofeed rows checked as ISO 3166;
#: 4: the 128-bit IPv6 table and per-file checksums; 5: AWS GLOBAL CloudFront no longer
#: anycast, measured anycast layer; 6: no combo holds both address families; 7: the
#: documented anycast layer), so an
#: older index is rebuilt, not trusted.
COMPILER_VERSION = "7"


def compile_stamp(specs: Sequence[SourceSpec], regions_dir: Path) -> str:
    """A digest of the compiler version, every source file and the project tables."""
    h = sha256(COMPILER_VERSION.encode())
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
        data / "anycast.toml",
    ]
    for table in tables:
        h.update(table.read_bytes())
    return h.hexdigest()[:20]


def table_key(tables: Sequence[Path]) -> str:
    """The digest of project tables a layer is read from."""
    h = sha256(COMPILER_VERSION.encode())
    for table in tables:
        h.update(table.name.encode() + b"|" + table.read_bytes())
    return h.hexdigest()[:20]


def source_key(spec: SourceSpec, regions: str) -> str:
    """The digest of one source's files (and the region tables a feed is placed with):
    a layer whose key is unchanged is kept as compiled."""
    h = sha256(
        f"{COMPILER_VERSION}|{spec.dataset}|{spec.kind}|{spec.version}|{spec.parser}".encode()
    )
    h.update(regions.encode())
    recorded = spec.data_version.sha256 if spec.data_version else None
    for f in spec.files:
        st = f.stat()
        h.update(f"{f.name}|{st.st_size}|{recorded or st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def merge_inputs_key() -> str:
    """The digest of what a merged answer depends on beyond the layers (the provider
    registry): a summary row is reused only while it is the same."""
    return table_key([paths.project_data_dir() / "providers.toml"])


def recompile(
    specs: Sequence[SourceSpec], target: Path, stamp: str, why: str, say: Callable[[str], None]
) -> None:
    """Rebuild the index, or say how to when its folder cannot be written."""
    from residency.locate.index.build import compile_index

    parent = target.parent
    if not os.access(parent if parent.exists() else parent.parent, os.W_OK):
        raise IndexDamaged(
            f"{target}: compiled index {why or 'needs rebuilding'}, and {parent} is read-only; "
            "rebuild it where it can be written (any 'residency ip ADDRESS' run with write "
            "access to that folder does it), or point RESIDENCY_DATA_DIR at a writable copy"
        )
    from residency.locate.index.incremental import CompileReport, update_index

    try:
        report: CompileReport | None = None
        if why != "missing":
            report = update_index(specs, target, stamp, merge_inputs_key())
        if report is None:
            if why != "missing":
                say(f"compiled index {why}; rebuilding {target} (takes a while)")
            plans = layer_plans(specs)
            compile_index(
                [build_layer(p) for p in plans],
                target,
                stamp,
                {"layer_keys": [p.key for p in plans], "merge_inputs": merge_inputs_key()},
            )
        elif report.rebuilt or report.damaged or report.removed:
            say(f"compiled index {why}; {report.line()}")
    except OSError as err:
        raise LocateError(f"{target}: cannot write the compiled index ({err})") from err
