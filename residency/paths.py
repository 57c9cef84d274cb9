"""Where things live on disk, and every ``RESIDENCY_*`` setting read from the environment.

This module is the one owner of environment variables and user paths (platformdirs):
other modules call the functions below, so each variable has one name, one default and
one place to look (tests/test_paths.py keeps it that way).
"""

from __future__ import annotations

import atexit
import os
from contextlib import ExitStack
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

#: Environment variable that overrides where downloaded datasets are kept.
DATA_DIR_ENV = "RESIDENCY_DATA_DIR"

#: Extra GeoIP (.mmdb) files, ``os.pathsep``-separated, e.g. GeoLite2 from geoipupdate.
GEOIP_ENV = "RESIDENCY_GEOIP"

#: Environment variable naming the history database (path or URL).
DB_ENV = "RESIDENCY_DB"

#: Environment variable naming the SQLite file of the persistent RDAP cache.
RDAP_CACHE_ENV = "RESIDENCY_RDAP_CACHE"

#: Environment variable that overrides the RDAP base URL.
RDAP_URL_ENV = "RESIDENCY_RDAP_URL"

#: Environment variable: one RDAP base URL that answers every domain lookup, instead of
#: the server the IANA bootstrap names for the TLD (a private or local RDAP service).
DOMAIN_RDAP_URL_ENV = "RESIDENCY_DOMAIN_RDAP_URL"

#: Environment variable: the GLEIF API base URL ``--gleif`` asks (a mirror, or a local
#: test server); default https://api.gleif.org/api/v1.
GLEIF_URL_ENV = "RESIDENCY_GLEIF_URL"

#: Environment variable: seconds the whole RDAP stage of one run may take.
RDAP_BUDGET_ENV = "RESIDENCY_RDAP_BUDGET"

#: Environment variable naming the user's config file (default: platformdirs user config).
CONFIG_ENV = "RESIDENCY_CONFIG"

#: The application name platformdirs builds the per-user directories from.
APP_NAME = "residency"


def _user_dir(kind: Literal["data", "cache", "config"]) -> Path:
    """platformdirs' per-user ``data``, ``cache`` or ``config`` directory. Imported here,
    not at the top: on Linux it imports tempfile, shutil, bz2 and lzma (about 15 ms of a
    cold ``residency ip``), which a run given ``$RESIDENCY_DATA_DIR`` never needs."""
    import platformdirs

    find = {
        "data": platformdirs.user_data_dir,
        "cache": platformdirs.user_cache_dir,
        "config": platformdirs.user_config_dir,
    }[kind]
    return Path(find(APP_NAME))


#: The package the project's own tables ship in (``data/`` in the source tree, mapped by
#: setuptools' package-dir), so a wheel, an sdist and an editable install read the same files.
DATA_PACKAGE = "residency.data"
PROJECT_DATA_ENV = "RESIDENCY_PROJECT_DATA"

_keep = ExitStack()  # holds as_file() extractions (none for an unzipped install) until exit
atexit.register(_keep.close)


def project_data() -> Traversable:
    """The tables the project owns, as an importlib.resources Traversable."""
    override = os.environ.get(PROJECT_DATA_ENV)
    if override:
        return Path(override)
    from importlib.resources import files

    return files(DATA_PACKAGE)


def project_data_dir() -> Path:
    """The same tables as a real directory, for readers that need paths (CSV folders,
    mtimes, Knot zone files). The one route to :func:`project_data`."""
    override = os.environ.get(PROJECT_DATA_ENV)
    if override:
        return Path(override)
    return _data_path()


@cache
def _data_path() -> Path:
    # A normal (unzipped) install gives the package directory itself; nothing is copied.
    # That case is read off the import spec: importlib.resources (and the zip readers it
    # imports) would cost a cold ``residency ip`` several milliseconds for the same answer.
    from importlib.util import find_spec

    spec = find_spec(DATA_PACKAGE)
    where = list(spec.submodule_search_locations or ()) if spec is not None else []
    if len(where) == 1 and Path(where[0]).is_dir():
        return Path(where[0])
    from importlib.resources import as_file

    return Path(_keep.enter_context(as_file(project_data())))


def dataset_dir() -> Path:
    """Downloaded and compiled datasets: ``$RESIDENCY_DATA_DIR`` or the user data dir."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    return _user_dir("data") / "datasets"


def user_geoip_files() -> list[Path]:
    """The GeoIP files named by ``$RESIDENCY_GEOIP`` (empty entries ignored)."""
    return [Path(p) for p in os.environ.get(GEOIP_ENV, "").split(os.pathsep) if p]


def default_db_path() -> Path:
    """The per-user SQLite history file, used when no value and no ``$RESIDENCY_DB`` is given."""
    return _user_dir("data") / "history.sqlite3"


def db_setting() -> str | None:
    """``$RESIDENCY_DB`` as set (a path or URL), or None when unset or empty."""
    return os.environ.get(DB_ENV) or None


def rdap_cache_path() -> Path:
    """``$RESIDENCY_RDAP_CACHE`` or ``rdap.sqlite3`` in the user cache directory."""
    override = os.environ.get(RDAP_CACHE_ENV)
    if override:
        return Path(override)
    return _user_dir("cache") / "rdap.sqlite3"


def rdap_url_override() -> str | None:
    """``$RESIDENCY_RDAP_URL`` as set (validated by the caller), or None when unset or empty."""
    return os.environ.get(RDAP_URL_ENV) or None


def domain_rdap_url_override() -> str | None:
    """``$RESIDENCY_DOMAIN_RDAP_URL`` as set (validated by the caller), or None."""
    return os.environ.get(DOMAIN_RDAP_URL_ENV) or None


def gleif_url_override() -> str | None:
    """``$RESIDENCY_GLEIF_URL`` as set (validated by the caller), or None."""
    return os.environ.get(GLEIF_URL_ENV) or None


def rdap_budget_setting() -> str | None:
    """``$RESIDENCY_RDAP_BUDGET`` as set, unparsed (the caller validates it), or None."""
    return os.environ.get(RDAP_BUDGET_ENV)


def config_path() -> Path:
    """``$RESIDENCY_CONFIG`` or ``config.toml`` in the platform's user config directory."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override)
    return _user_dir("config") / "config.toml"


def forbid_browser_downloads() -> None:
    """Playwright must drive the machine's Chromium and never fetch a browser of its own:
    ``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1`` for this process and what it starts (a crawl)."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
