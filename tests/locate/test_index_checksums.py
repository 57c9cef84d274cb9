"""Whole-file checksums of the compiled index: XXH3-64 where recorded, CRC-32 for an
index written before it was, and either way a damaged byte is found, not answered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xxhash

from residency.locate.index.read import (
    _BLOCK,
    _CHUNK,
    _WHOLE_LIMIT,
    WHOLE_DIGEST,
    IndexDamaged,
    _file_digest,
    _sample_starts,
    _sampled,
    _sampled_file,
    file_checksums,
    verify_files,
)
from residency.locate.locator import Locator


def _table(path: Path, size: int) -> Path:
    path.write_bytes(bytes((i * 7 + 3) % 251 for i in range(size)))
    return path


@pytest.mark.parametrize("size", [1, _CHUNK - 1, _CHUNK, _CHUNK + 1, 3 * _CHUNK + 5])
def test_file_digest_is_xxh3_of_every_byte_across_buffer_boundaries(
    tmp_path: Path, size: int
) -> None:
    path = _table(tmp_path / "t.npy", size)
    buffer = memoryview(bytearray(_CHUNK))
    assert _file_digest(path, buffer) == xxhash.xxh3_64_intdigest(path.read_bytes())
    assert file_checksums(path)[WHOLE_DIGEST] == xxhash.xxh3_64_intdigest(path.read_bytes())


@pytest.mark.parametrize("old_index", [False, True], ids=["xxh3", "crc32-only"])
@pytest.mark.parametrize("at", [0, _CHUNK, 2 * _CHUNK + 17])
def test_one_flipped_byte_anywhere_in_a_table_is_damage(
    tmp_path: Path, old_index: bool, at: int
) -> None:
    path = _table(tmp_path / "v4_starts.npy", 2 * _CHUNK + 100)
    recorded = {path.name: file_checksums(path)}
    if old_index:  # meta.json of an index compiled before XXH3 was recorded
        del recorded[path.name][WHOLE_DIGEST]
    verify_files(tmp_path, recorded, full=False)
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IndexDamaged, match=r"v4_starts\.npy: checksum differs"):
        verify_files(tmp_path, recorded, full=False)


@pytest.mark.parametrize("size", [10, _WHOLE_LIMIT, _WHOLE_LIMIT + 1, 3 * _WHOLE_LIMIT])
def test_sampled_file_reads_the_blocks_the_compiler_sampled(tmp_path: Path, size: int) -> None:
    path = _table(tmp_path / "claims-1.jsonl", size)
    assert _sampled_file(path, size) == _sampled(path.read_bytes())


def test_claims_damage_in_a_sample_is_found_on_load_and_anywhere_in_bulk(tmp_path: Path) -> None:
    path = _table(tmp_path / "claims-1.jsonl", 3 * _WHOLE_LIMIT)
    recorded = {path.name: file_checksums(path)}
    starts = _sample_starts(3 * _WHOLE_LIMIT)
    between = starts[1] + _BLOCK + 10  # in no sampled block
    for at, on_load in ((starts[5] + 100, True), (between, False)):
        path.write_bytes(_table(tmp_path / "fresh", 3 * _WHOLE_LIMIT).read_bytes())
        data = bytearray(path.read_bytes())
        data[at] ^= 0x80
        path.write_bytes(bytes(data))
        if on_load:
            with pytest.raises(IndexDamaged):
                verify_files(tmp_path, recorded, full=False)
        else:  # claims read one by one are parsed and shape-checked instead
            verify_files(tmp_path, recorded, full=False)
        with pytest.raises(IndexDamaged):
            verify_files(tmp_path, recorded, full=True)


def test_every_file_of_a_compiled_index_records_both_checksums(
    small_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESIDENCY_GEOIP", "")
    Locator.load(small_dataset)  # compiles it when no test has yet
    meta = json.loads((small_dataset / "compiled" / "meta.json").read_text())
    assert meta["files"]
    for name, want in meta["files"].items():
        assert {"size", WHOLE_DIGEST, "crc32", "sampled"} <= set(want), name
