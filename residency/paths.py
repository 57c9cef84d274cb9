"""Where things live on disk: the project's own tables and the downloaded datasets."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

#: Environment variable that overrides where downloaded datasets are kept.
DATA_DIR_ENV = "RESIDENCY_DATA_DIR"


def project_data_dir() -> Path:
    """The tables the project owns (``data/`` at the top of the repository)."""
    override = os.environ.get("RESIDENCY_PROJECT_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "data"


def dataset_dir() -> Path:
    """Downloaded and compiled datasets: ``$RESIDENCY_DATA_DIR`` or the user data dir."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("residency")) / "datasets"


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout, used by tests and benchmarks only."""
    candidate = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None
