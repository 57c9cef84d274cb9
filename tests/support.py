"""Test helpers shared by every area: locating real data and real servers.

Under ``CI=true`` a missing server or binary is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = REPO.parent / "shared" / "data"

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip on a laptop; fail under CI, where every server must be present."""
    if IN_CI:
        pytest.fail(f"required under CI=true: {reason}")
    pytest.skip(reason)


def require_binary(*names: str) -> str:
    """Return the path of the first of ``names`` on PATH (or in sbin), else skip/fail."""
    extra = os.pathsep.join(["/usr/sbin", "/sbin", "/usr/lib/postgresql/15/bin"])
    for name in names:
        found = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + extra)
        if found:
            return found
    unavailable(f"none of {', '.join(names)} is installed")
    raise AssertionError("unreachable")


def shared(*parts: str) -> Path:
    """A file under ../shared/data; skips cleanly where the folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path
