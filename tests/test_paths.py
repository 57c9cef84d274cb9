"""residency/paths.py is the one owner of environment variables and user paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from residency import paths
from tests.support import grep_offenders, stale_allowances

PACKAGE = Path(paths.__file__).parent

#: Reads of the environment or of platformdirs outside paths.py.
_FORBIDDEN = re.compile(r"os\.environ|getenv|platformdirs")

#: Deliberate exceptions, as (file relative to residency/, text on the line) -> reason.
ALLOWED: dict[tuple[str, str], str] = {
    ("cli.py", '"COLUMNS"'): "terminal convention, read at the CLI edge only",
    ("cli.py", '"NO_COLOR"'): "terminal convention (no-color.org), read at the CLI edge only",
    ("datasets/mirrors.py", "dict(os.environ)"): "passes the whole environment to a subprocess",
    ("demo/__main__.py", "**os.environ"): "passes the whole environment to a subprocess",
    ("demo/knot.py", '"PATH"'): "extends the system PATH to find Knot's sbin tools",
    ("endpoints/crawl/browser.py", "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"): (
        "tells Playwright never to fetch a browser of its own, not a residency setting"
    ),
}


def test_environment_and_user_paths_are_read_only_in_paths_py() -> None:
    assert grep_offenders(_FORBIDDEN, "paths.py", ALLOWED) == [], "move these into paths.py"


def test_every_allowed_exception_still_exists() -> None:
    assert stale_allowances(ALLOWED) == []


def test_overrides_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        paths.DB_ENV,
        paths.RDAP_CACHE_ENV,
        paths.RDAP_URL_ENV,
        paths.RDAP_BUDGET_ENV,
        paths.CONFIG_ENV,
    ):
        monkeypatch.delenv(name, raising=False)
    assert paths.db_setting() is None
    assert paths.rdap_url_override() is None
    assert paths.rdap_budget_setting() is None
    assert paths.rdap_cache_path().name == "rdap.sqlite3"
    assert paths.config_path().name == "config.toml"
    assert paths.default_db_path().name == "history.sqlite3"

    monkeypatch.setenv(paths.DB_ENV, "postgresql://db/x")
    monkeypatch.setenv(paths.RDAP_CACHE_ENV, str(tmp_path / "c.sqlite3"))
    monkeypatch.setenv(paths.RDAP_URL_ENV, "http://127.0.0.1:9")
    monkeypatch.setenv(paths.RDAP_BUDGET_ENV, "7")
    monkeypatch.setenv(paths.CONFIG_ENV, str(tmp_path / "c.toml"))
    assert paths.db_setting() == "postgresql://db/x"
    assert paths.rdap_cache_path() == tmp_path / "c.sqlite3"
    assert paths.rdap_url_override() == "http://127.0.0.1:9"
    assert paths.rdap_budget_setting() == "7"
    assert paths.config_path() == tmp_path / "c.toml"
