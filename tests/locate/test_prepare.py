"""Readying a dataset after an update: the index, then the calibration when feeds allow."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

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

    @classmethod
    def load(cls) -> _FakeLocator:
        return cls()

    def merge_all(self) -> None:
        type(self).merged += 1


@pytest.fixture
def fake_locator(monkeypatch: pytest.MonkeyPatch) -> type[_FakeLocator]:
    _FakeLocator.loads = _FakeLocator.merged = 0
    monkeypatch.setattr(prepare, "Locator", _FakeLocator)
    return _FakeLocator


def test_without_ground_truth_only_the_index(
    fake_locator: type[_FakeLocator], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "rebuild_calibration", lambda locator: None)
    said: list[str] = []
    prepare.prepare_dataset(said.append)
    assert len(said) == 1 and said[0].startswith("lookup index ready: 2 layers, 15 intervals (")
    assert (fake_locator.loads, fake_locator.merged) == (1, 0)


def test_measured_calibration_merges_again(
    fake_locator: type[_FakeLocator], monkeypatch: pytest.MonkeyPatch
) -> None:
    truths: dict[str, Any] = {"ground_truth": [{"samples": 40}, {"samples": 2}]}
    calibration = SimpleNamespace(provenance=truths)
    monkeypatch.setattr(prepare, "rebuild_calibration", lambda locator: calibration)
    said: list[str] = []
    prepare.prepare_dataset(said.append)
    assert said[1].startswith(
        "calibration measured against 2 provider-published feeds, 42 addresses ("
    )
    assert (fake_locator.loads, fake_locator.merged) == (2, 1)
    prepare.prepare_dataset()  # quiet: the same work, nothing said
    assert fake_locator.merged == 2
