"""A damaged, moved or read-only compiled index: rebuilt with a message, or a clean error."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.runner import Run, assert_clean_failure, run_cli
from tests.locate.fixtures import imported_dataset
from tests.support import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")

NO_GEOIP = {"RESIDENCY_GEOIP": ""}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small imported dataset with its index compiled once by the real CLI."""
    directory = imported_dataset(tmp_path_factory.mktemp("index-hostile"))
    first = run_cli("ip", "13.228.0.1", data_dir=directory, env=NO_GEOIP)
    assert first.code == 0, first.stderr
    return directory


@pytest.fixture
def dataset(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "datasets"
    shutil.copytree(built, copy)
    return copy


def ask(directory: Path, *ips: str) -> Run:
    return run_cli("ip", *ips, data_dir=directory, env=NO_GEOIP)


def scribble(path: Path, at_fraction: float = 0.5, length: int = 64) -> None:
    data = bytearray(path.read_bytes())
    at = int(len(data) * at_fraction)
    data[at : at + length] = os.urandom(length)
    path.write_bytes(bytes(data))


def assert_rebuilt_and_right(run: Run) -> None:
    assert not run.traceback, run.stderr
    assert run.code == 0, run.stderr
    assert "rebuilding" in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert "SG" in run.stdout and "aws ap-southeast-1" in run.stdout, run.stdout


def test_truncated_starts_are_rebuilt_not_answered(dataset: Path) -> None:
    starts = dataset / "compiled" / "v4_starts.npy"
    os.truncate(starts, 1000)
    run = ask(dataset, "13.228.0.1")
    assert_rebuilt_and_right(run)
    assert "v4_starts.npy" in run.stderr


@pytest.mark.parametrize("name", ["combos.npy", "claims-1.jsonl", "v6_starts.npy", "meta.json"])
def test_random_bytes_are_rebuilt(dataset: Path, name: str) -> None:
    scribble(dataset / "compiled" / name)
    assert_rebuilt_and_right(ask(dataset, "13.228.0.1"))
    assert ask(dataset, "13.228.0.1").stderr == ""  # rebuilt once, then trusted


def test_moved_read_only_dataset_answers_without_rebuild(built: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "datasets"
    shutil.copytree(built, moved)  # new path, new mtimes: still the same data
    for path in [moved, *moved.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        run = ask(moved, "13.228.0.1", "1.1.1.1")
        assert run.code == 0 and not run.traceback, run.stderr
        assert run.stderr == "" and "aws ap-southeast-1" in run.stdout
        bulk = run_cli("ip", "--bulk", "-", data_dir=moved, env=NO_GEOIP, stdin=b"13.228.0.1\n")
        assert bulk.code == 0 and "\tSG\taws\t" in bulk.stdout, bulk.stderr
    finally:
        _writable(moved)


def test_damaged_read_only_index_is_a_clean_error(dataset: Path) -> None:
    os.truncate(dataset / "compiled" / "combos.npy", 100)
    for path in [dataset, *dataset.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        if os.access(dataset / "compiled", os.W_OK):
            pytest.skip("running as a user who can write read-only folders")
        run = ask(dataset, "13.228.0.1")
        assert_clean_failure(run, code=2, mentions="read-only")
        assert len(run.error_lines()) == 1 and "combos.npy" in run.stderr
        assert "RESIDENCY_DATA_DIR" in run.stderr  # says how to fix it
        assert run.stdout == ""
    finally:
        _writable(dataset)


def _writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path) -> Iterator[None]:
    yield
    assert not list(tmp_path.rglob(".compiling-*"))
