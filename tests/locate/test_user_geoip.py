"""``$RESIDENCY_GEOIP`` is read in paths.py only; the locator turns it into sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from residency.locate.errors import LocateError
from residency.locate.index.specs import user_geoip_sources
from residency.paths import GEOIP_ENV, user_geoip_files


def test_env_lists_files_and_skips_empty_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(GEOIP_ENV, os.pathsep.join(["/a/one.mmdb", "", "/b/two.mmdb"]))
    assert user_geoip_files() == [Path("/a/one.mmdb"), Path("/b/two.mmdb")]


def test_missing_env_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "absent.mmdb"
    monkeypatch.setenv(GEOIP_ENV, str(missing))
    with pytest.raises(LocateError, match=r"absent\.mmdb: GeoIP database not found"):
        user_geoip_sources()
