"""Where things live on disk: the project's own tables and the downloaded datasets."""

from __future__ import annotations

import atexit
import os
from contextlib import ExitStack
from functools import cache
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

import platformdirs

#: Environment variable that overrides where downloaded datasets are kept.
DATA_DIR_ENV = "RESIDENCY_DATA_DIR"

#: Extra GeoIP (.mmdb) files, ``os.pathsep``-separated, e.g. GeoLite2 from geoipupdate.
GEOIP_ENV = "RESIDENCY_GEOIP"


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
    return Path(_keep.enter_context(as_file(project_data())))


def dataset_dir() -> Path:
    """Downloaded and compiled datasets: ``$RESIDENCY_DATA_DIR`` or the user data dir."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("residency")) / "datasets"


def user_geoip_files() -> list[Path]:
    """The GeoIP files named by ``$RESIDENCY_GEOIP`` (empty entries ignored)."""
    return [Path(p) for p in os.environ.get(GEOIP_ENV, "").split(os.pathsep) if p]
