"""Readying a dataset after an update: the index, then the calibration when feeds allow."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from residency.locate import prepare


class _FakeLocator:
    loads = 0
    merged = 0

    def __init__(self) -> None:
        type(self).loads += 1
        self.index = SimpleNamespace(
            layers=("a", "b"), sizes=lambda: {"v4_intervals": 10, "v6_intervals": 5}
        )

    directories: ClassVar[list[Any]] = []

    @classmethod
    def load(cls, dataset_dir: Any = None) -> _FakeLocator:
        cls.directories.append(dataset_dir)
        return cls()

    def merge_all(self) -> None:
        type(self).merged += 1


@pytest.fixture
def fake_locator(monkeypatch: pytest.MonkeyPatch) -> type[_FakeLocator]:
    _FakeLocator.loads = _FakeLocator.merged = 0
    _FakeLocator.directories = []
    monkeypatch.setattr(prepare, "Locator", _FakeLocator)
    return _FakeLocator


def test_without_ground_truth_only_the_index(
    fake_locator: type[_FakeLocator], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "rebuild_calibration", lambda locator, directory: None)
    said: list[str] = []
    prepare.prepare_dataset(said.append)
    assert len(said) == 1 and said[0].startswith("lookup index ready: 2 layers, 15 intervals (")
    assert (fake_locator.loads, fake_locator.merged) == (1, 0)


def test_measured_calibration_merges_again(
    fake_locator: type[_FakeLocator], monkeypatch: pytest.MonkeyPatch
) -> None:
    truths: dict[str, Any] = {"ground_truth": [{"samples": 40}, {"samples": 2}]}
    calibration = SimpleNamespace(provenance=truths)
    monkeypatch.setattr(prepare, "rebuild_calibration", lambda locator, directory: calibration)
    said: list[str] = []
    prepare.prepare_dataset(said.append)
    assert said[1].startswith(
        "calibration measured against 2 provider-published feeds, 42 addresses ("
    )
    assert (fake_locator.loads, fake_locator.merged) == (2, 1)
    # issue 21: a table that kept the shipped operator rows says so
    truths["operator_study"] = {"operators": 45}
    prepare.prepare_dataset(said.append)
    assert said[-1].endswith("; the shipped rows measured on 45 operators' own places kept")
    prepare.prepare_dataset()  # quiet: the same work, nothing said
    assert fake_locator.merged == 3


def test_a_given_folder_is_the_one_prepared(
    fake_locator: type[_FakeLocator], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """``residency data update --data-dir DIR`` compiles DIR's index, not the default's."""
    seen: list[Any] = []
    monkeypatch.setattr(
        prepare, "rebuild_calibration", lambda locator, directory: seen.append(directory)
    )
    prepare.prepare_dataset(None, tmp_path)
    assert fake_locator.directories == [tmp_path] and seen == [tmp_path]
