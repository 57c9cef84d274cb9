"""The compile stamp (what an index was built from) and the rebuild when it is stale."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from residency import paths
from residency.digest import sha256
from residency.locate.errors import LocateError
from residency.locate.index.read import IndexDamaged
from residency.locate.index.specs import SourceSpec, build_layers

#: Bumped when parsing changes what a layer holds (2: geofeed rows checked as ISO 3166;
#: 4: the 128-bit IPv6 table and per-file checksums; 5: AWS GLOBAL CloudFront no longer
#: anycast, measured anycast layer; 6: no combo holds both address families), so an
#: older index is rebuilt, not trusted.
COMPILER_VERSION = "6"


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
    ]
    for table in tables:
        h.update(table.read_bytes())
    return h.hexdigest()[:20]


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
    if why != "missing":
        say(f"compiled index {why}; rebuilding {target} (takes a while)")
    try:
        compile_index(build_layers(specs), target, stamp)
    except OSError as err:
        raise LocateError(f"{target}: cannot write the compiled index ({err})") from err
