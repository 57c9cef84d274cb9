"""Fixtures every test area may use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import SHARED_DATA


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dataset imported from the shared snapshots, for runs of the real CLI.

    Never the user's own dataset: a fresh machine (CI) has none, and a test must not
    depend on what a developer happens to have downloaded."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data absent: no dataset to audit with")
    from tests.locate.fixtures import imported_dataset

    return imported_dataset(tmp_path_factory.mktemp("small-dataset"))
