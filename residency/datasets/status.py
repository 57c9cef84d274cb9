"""``residency data status``: each dataset in place with its version, age and origin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from residency.datasets.manifest import load_manifest
from residency.datasets.sources import STALE_DAYS, Source, all_sources
from residency.datasets.update import missing_parts
from residency.paths import dataset_dir


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

    def line(self) -> str:
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


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
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
            if source and source.covered_by and source.covered_by in manifest.entries:
                problem += f"; its ranges come from {source.covered_by} meanwhile"
            rows.append(
                DatasetStatus(name, kind, present=False, stale_after_days=limit, problem=problem)
            )
            continue
        limit = limit or STALE_DAYS.get(entry.kind, 14)
        # Age of the data itself where upstream dates it; else since we fetched it.
        dated = _parse_time(f"{entry.published}T00:00:00Z") if entry.published else None
        fetched = dated or _parse_time(entry.fetched)
        age = (now - fetched).total_seconds() / 86400 if fetched else None
        on_disk = all(p.is_file() for p in entry.file_paths(directory))
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
                problem="" if on_disk else "listed in the manifest but files are missing",
                attribution=entry.attribution,
            )
        )
    return DataStatus(
        directory=str(directory),
        datasets=tuple(rows),
        missing=missing_parts(manifest, directory),
    )
