"""The dataset directory on disk: an update lock, and the atomic swap of staged files."""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from residency.datasets.errors import DatasetError
from residency.datasets.manifest import ManifestFile, raw_dir

LOCK_NAME = ".update.lock"


class UpdateInProgress(DatasetError):
    """Another process holds the dataset directory's update lock."""


class UpdateLock:
    """An exclusive, non-blocking lock on the dataset directory for one update or import."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> UpdateLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            os.close(fd)
            raise UpdateInProgress(
                f"{self.path.parent}: another 'residency data update' or import is running"
            ) from err
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True)
class StagedFile:
    """A file ready to become part of a dataset: a temp file, or one already in place."""

    name: str  # stored name under raw/<dataset-id>/
    path: Path
    sha256: str
    size: int
    temporary: bool = True  # False: the file already in place is kept (a 304 answer)
    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None

    def manifest_file(self) -> ManifestFile:
        return ManifestFile(
            name=self.name,
            sha256=self.sha256,
            size=self.size,
            url=self.url,
            etag=self.etag,
            last_modified=self.last_modified,
        )


def dataset_raw_dir(directory: Path, dataset: str) -> Path:
    path = raw_dir(directory) / dataset
    path.mkdir(parents=True, exist_ok=True)
    return path


def discard(staged: list[StagedFile] | tuple[StagedFile, ...]) -> None:
    """Remove the temp files of a staged set that will not be installed."""
    for item in staged:
        if item.temporary:
            item.path.unlink(missing_ok=True)


def install(directory: Path, dataset: str, staged: tuple[StagedFile, ...]) -> None:
    """Move staged temp files over the dataset's files, each with one atomic os.replace.

    Staged files already sit in the same directory, so every replace is a rename on
    one filesystem: a reader sees the old file or the new one, never a partial one.
    """
    target = dataset_raw_dir(directory, dataset)
    for item in staged:
        if item.temporary:
            os.chmod(item.path, 0o644)  # mkstemp makes 0600; data files are for every user
            os.replace(item.path, target / item.name)


def remove_others(directory: Path, dataset: str, keep: set[str]) -> None:
    """Delete files of an earlier version that the new manifest entry no longer lists."""
    target = raw_dir(directory) / dataset
    if not target.is_dir():
        return
    for path in target.iterdir():
        if path.is_file() and not path.name.startswith(".") and path.name not in keep:
            path.unlink(missing_ok=True)


def remove_leftovers(directory: Path) -> None:
    """Delete temp files a crashed update left behind (call only under the update lock)."""
    base = raw_dir(directory)
    if not base.is_dir():
        return
    for path in base.glob("*/.*.part"):
        path.unlink(missing_ok=True)
    for pattern in ("*/.npm-pack-*", "*/.pip-download-*"):
        for folder in base.glob(pattern):
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
