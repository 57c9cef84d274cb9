"""History store: every audit run and every monitoring check, deduplicated, with drift.

``open_store(None)`` opens the per-user SQLite file (or ``$RESIDENCY_DB``);
``open_store("postgresql://...")`` a shared PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from residency.paths import DB_ENV, db_setting, default_db_path
from residency.store.backend import Backend
from residency.store.errors import (
    RunNotFound,
    StoreCannotOpen,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreMissing,
    StorePermanentError,
    StoreReadOnly,
    StoreTransientError,
    StoreUnavailable,
    StoreUrlInvalid,
)
from residency.store.store import (
    BatchOutcome,
    Completion,
    ComplianceReport,
    RecordOutcome,
    RunDiff,
    RunInfo,
    Store,
    TargetSpec,
    Timeline,
    WatchTarget,
)


def _sqlite(target: str, timeout: float, create: bool = True) -> Backend:
    from residency.store.sqlite import SqliteBackend

    return SqliteBackend(target, timeout=timeout, create=create)


def _postgres(target: str, timeout: float, create: bool = True) -> Backend:
    from residency.store.postgres import PostgresBackend

    # A PostgreSQL database is created by its administrator, never by us: nothing to do.
    return PostgresBackend(target, connect_timeout=timeout)


#: URL scheme -> backend factory ``(target, timeout, create)``. Plain paths are SQLite.
BACKENDS: dict[str, Callable[[str, float, bool], Backend]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def resolve_location(url_or_path: str | None) -> tuple[str, str]:
    """(scheme, target) for an explicit value, ``$RESIDENCY_DB``, or the default file."""
    value = url_or_path or db_setting() or str(default_db_path())
    value = value.strip()
    if not value:
        raise StoreUrlInvalid("history database: empty path or URL")
    if "://" in value:
        scheme, _, rest = value.partition("://")
        scheme = scheme.lower()
        if scheme not in BACKENDS:
            known = ", ".join(sorted(set(BACKENDS) - {"postgres"}))
            raise StoreUrlInvalid(
                f"history database {value.split('@')[-1]!r}: unknown scheme {scheme!r} "
                f"(use a file path, sqlite:///path or postgresql://...; known: {known})"
            )
        if scheme == "sqlite":
            # sqlite:///relative, sqlite:////absolute, sqlite://:memory:
            target = rest[1:] if rest.startswith("/") else rest
            if not target:
                raise StoreUrlInvalid(f"history database {value!r}: no file path after sqlite://")
            return "sqlite", target
        return "postgresql", value
    return "sqlite", str(Path(value).expanduser())


def open_store(
    url_or_path: str | None = None, *, timeout: float = 10.0, create: bool = True
) -> Store:
    """Open (and migrate) the history database; raises ``StoreError`` with one clear line.

    ``create=False`` (reading commands): a SQLite file that does not exist raises
    ``StoreMissing`` instead of being created with its folders. ``sqlite:///path?mode=ro``
    opens the file read-only (SQLite URI parameters).
    """
    scheme, target = resolve_location(url_or_path)
    backend = BACKENDS[scheme](target, timeout, create)
    try:
        return Store(backend)
    except BaseException:
        backend.close()
        raise


__all__ = [
    "BACKENDS",
    "DB_ENV",
    "BatchOutcome",
    "Completion",
    "ComplianceReport",
    "RecordOutcome",
    "RunDiff",
    "RunInfo",
    "RunNotFound",
    "Store",
    "StoreCannotOpen",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreMissing",
    "StorePermanentError",
    "StoreReadOnly",
    "StoreTransientError",
    "StoreUnavailable",
    "StoreUrlInvalid",
    "TargetSpec",
    "Timeline",
    "WatchTarget",
    "default_db_path",
    "open_store",
    "resolve_location",
]
