"""Test helpers shared by every area: locating real data and real servers.

Under ``CI=true`` a missing server or binary is a failure, never a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
from collections.abc import Callable, Mapping
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


#: The package's own source folder, for the grep tests (paths, timefmt).
PACKAGE = REPO / "residency"


def grep_offenders(
    forbidden: re.Pattern[str], owner: str, allowed: Mapping[tuple[str, str], str]
) -> list[str]:
    """Lines of residency/ (outside ``owner``) that match ``forbidden``, except the
    ``allowed`` (file relative to residency/, text on the line) -> reason entries."""
    found = []
    for source in sorted(PACKAGE.rglob("*.py")):
        relative = source.relative_to(PACKAGE).as_posix()
        if relative == owner:
            continue
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            if not forbidden.search(line):
                continue
            if any(relative == f and text in line for f, text in allowed):
                continue
            found.append(f"residency/{relative}:{number}: {line.strip()}")
    return found


def stale_allowances(allowed: Mapping[tuple[str, str], str]) -> list[tuple[str, str]]:
    """Allow-list entries whose text is gone: one would silently permit a future use."""
    return [
        (relative, text)
        for relative, text in allowed
        if text not in (PACKAGE / relative).read_text(encoding="utf-8")
    ]


def accept_until(
    listener: socket.socket,
    stop: threading.Event,
    handle: Callable[[socket.socket], None],
    *,
    threaded: bool = False,
) -> None:
    """A test server's accept loop: each connection to ``handle`` (on a thread of its own
    when ``threaded``) until ``stop`` is set or the listener is closed. The listener needs
    a timeout, so ``stop`` is looked at between connections."""
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        if threaded:
            threading.Thread(target=handle, args=(conn,), daemon=True).start()
        else:
            handle(conn)
