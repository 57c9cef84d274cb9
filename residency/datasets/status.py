"""``residency data status``: each dataset in place with its version, age and origin.

It also checks, cheaply, that each dataset can still be read: every file's sha256
against the manifest (the data the update validated), and for mmdb files that the
database opens, its metadata reads and one lookup works. A damaged dataset is
reported with the command that repairs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import maxminddb

from residency.datasets.download import file_sha256
from residency.datasets.manifest import ManifestEntry, load_manifest
from residency.datasets.sources import STALE_DAYS, Source, all_sources
from residency.datasets.update import missing_parts
from residency.paths import dataset_dir
from residency.timefmt import parse_iso


@dataclass(frozen=True)
class DatasetStatus:
    """One dataset: present or not, how old, and whether it is stale."""

    dataset: str
    kind: str
    present: bool
    version: str | None = None
    fetched: str | None = None
    checked: str | None = None
    age_days: float | None = None  # since upstream published it, else since fetched
    published: str | None = None
    origin: str | None = None
    via: str | None = None
    stale: bool = False
    stale_after_days: int | None = None
    problem: str = ""  # e.g. "files missing on disk"
    attribution: str | None = None
    licence: str | None = None
    damaged: bool = False  # in the manifest, but a file is missing, changed or unreadable
    notices: tuple[str, ...] = ()  # known problems: the source's own, the package README's

    def line(self) -> str:
        if self.damaged:
            return f"{self.dataset:<24} {'DAMAGED':<12} {self.problem}"
        if not self.present:
            return f"{self.dataset:<24} {'missing':<12} {self.problem or 'never fetched'}"
        age = f"{self.age_days:.1f}d" if self.age_days is not None else "?"
        flag = f"  STALE (older than {self.stale_after_days} days)" if self.stale else ""
        return f"{self.dataset:<24} {self.version or '?':<26} {age:>7}  {self.origin}{flag}"


@dataclass(frozen=True)
class DataStatus:
    directory: str
    datasets: tuple[DatasetStatus, ...]
    missing: tuple[str, ...]  # what a complete dataset lacks

    @property
    def stale(self) -> tuple[DatasetStatus, ...]:
        return tuple(d for d in self.datasets if d.stale)

    @property
    def damaged(self) -> tuple[DatasetStatus, ...]:
        return tuple(d for d in self.datasets if d.damaged)

    def lines(self) -> list[str]:
        """The report ``residency data status`` prints: each dataset, its notices, then
        the licences and attribution of those present."""
        lines = [f"datasets in {self.directory}"]
        for row in self.datasets:
            lines.append(row.line())
            lines.extend(f"  notice: {notice}" for notice in row.notices)
        present = [row for row in self.datasets if row.present and (row.licence or row.attribution)]
        if present:
            lines.append("licences and attribution:")
        for row in present:
            lines.append(
                f"  {row.dataset}: {row.licence or '?'}; {row.attribution or ''}".rstrip("; ")
            )
        return lines

    def warnings(self) -> list[str]:
        """What is wrong with the dataset, one line each (for stderr): stale datasets,
        missing parts, damaged files."""
        lines = [
            f"warning: {row.dataset} is {row.age_days:.0f} days old (stale after "
            f"{row.stale_after_days}); run 'residency data update' where its official "
            "source is reachable"
            for row in self.stale
        ]
        if self.missing:
            lines.append("warning: dataset incomplete, missing " + "; ".join(self.missing))
        lines.extend(f"error: {row.problem}" for row in self.damaged)
        return lines


def repair_command(entry: ManifestEntry, source: Source | None) -> str:
    """The command that puts a good copy of ``entry`` back in place."""
    if source is not None and (source.urls or source.mirror or source.url_template):
        return f"residency data update --source {entry.dataset}"
    origin = entry.origin.split(" ")[0] if entry.via == "import" and entry.origin else "FILE"
    return f"residency data import {origin}"


def damage(entry: ManifestEntry, directory: Path) -> str | None:
    """What is wrong with a dataset's files on disk, or None when they read as installed."""
    for stored, path in zip(entry.files, entry.file_paths(directory), strict=True):
        if not path.is_file():
            return f"{stored.name} is missing"
        try:
            size = path.stat().st_size
            if size != stored.size or file_sha256(path) != stored.sha256:
                return f"{stored.name} changed on disk since it was installed (sha256 mismatch)"
        except OSError as err:
            return f"{stored.name} cannot be read ({err.strerror or err})"
        if entry.kind.startswith("mmdb"):
            problem = _mmdb_problem(path)
            if problem:
                return f"{stored.name} {problem}"
    return None


def _mmdb_problem(path: Path) -> str | None:
    try:
        reader = maxminddb.open_database(str(path), maxminddb.MODE_MMAP)
    except (maxminddb.InvalidDatabaseError, ValueError, OSError) as err:
        return f"does not open as an mmdb ({err})"
    try:
        reader.metadata()
        reader.get("1.1.1.1")
    except (maxminddb.InvalidDatabaseError, ValueError, OSError) as err:
        return f"is corrupt ({err})"
    finally:
        reader.close()
    return None


def _notices(source: Source | None, entry: ManifestEntry) -> tuple[str, ...]:
    """The source's known problem (unless the data came from the official URLs, which
    such a notice recommends), then what the package in place says about itself."""
    found: list[str] = []
    if source is not None and source.notice and entry.via != "official":
        found.append(source.notice)
    found.extend(n for n in entry.notices if n not in found)
    return tuple(found)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None


def data_status(
    directory: Path | None = None,
    sources: Mapping[str, Source] | None = None,
    now: datetime | None = None,
) -> DataStatus:
    """Every known source and every dataset in the manifest, with age and staleness."""
    directory = directory or dataset_dir()
    sources = sources if sources is not None else all_sources()
    now = now or datetime.now(UTC)
    manifest = load_manifest(directory)
    rows: list[DatasetStatus] = []
    for name in list(sources) + sorted(set(manifest.entries) - set(sources)):
        entry = manifest.get(name)
        source = sources.get(name)
        limit = source.stale_days if source else None
        if entry is None:
            kind = source.kind if source else "?"
            problem = "never fetched"
            if source and source.opt_in:
                how = (
                    f"'residency data import FILE --as {name}'"
                    if source.import_only
                    else f"'residency data update --enable {source.opt_in}' fetches it"
                )
                problem = f"off (opt-in): {how}; licence {source.licence}"
            elif source and source.covered_by and source.covered_by in manifest.entries:
                problem += f"; its ranges come from {source.covered_by} meanwhile"
            elif source and source.mirror is None and not source.user_added:
                # offline, nothing can fetch it: say how an air-gapped site gets it
                problem += (
                    "; no mirror exists: offline, import a copy with "
                    f"'residency data import FILE --as {name}'"
                )
            rows.append(
                DatasetStatus(
                    name,
                    kind,
                    present=False,
                    stale_after_days=limit,
                    problem=problem,
                    notices=(source.notice,) if source and source.notice else (),
                )
            )
            continue
        limit = limit or STALE_DAYS.get(entry.kind, 14)
        # Age of the data itself where upstream dates it; else since we fetched it.
        dated = _parse_time(f"{entry.published}T00:00:00Z") if entry.published else None
        fetched = dated or _parse_time(entry.fetched)
        age = (now - fetched).total_seconds() / 86400 if fetched else None
        on_disk = all(p.is_file() for p in entry.file_paths(directory))
        broken = damage(entry, directory)
        problem = ""
        if broken:
            problem = f"{name}: {broken}; repair with '{repair_command(entry, source)}'"
        rows.append(
            DatasetStatus(
                dataset=name,
                kind=entry.kind,
                present=on_disk,
                version=entry.version,
                fetched=entry.fetched,
                published=entry.published,
                checked=entry.checked,
                age_days=round(age, 2) if age is not None else None,
                origin=entry.origin,
                via=entry.via,
                stale=age is not None and age > limit,
                stale_after_days=limit,
                problem=problem,
                attribution=entry.attribution,
                licence=entry.licence,
                damaged=broken is not None,
                notices=_notices(source, entry),
            )
        )
    return DataStatus(
        directory=str(directory),
        datasets=tuple(rows),
        missing=missing_parts(manifest, directory),
    )
