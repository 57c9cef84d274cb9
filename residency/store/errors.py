"""Errors of the history store: one line naming the database and what is wrong."""

from __future__ import annotations

from residency.errors import ResidencyError


class StoreError(ResidencyError):
    """Base of every history-store failure."""


class StoreUrlInvalid(StoreError):
    """The database URL or path cannot be used as given."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (server down, refused, connection lost)."""


class StoreLocked(StoreError):
    """Another process holds the SQLite file locked for longer than we waited."""


class StoreCorrupt(StoreError):
    """The file is not a residency history database, or is newer than this program."""


class RunNotFound(StoreError):
    """A run id (or prefix) given by the user does not exist."""
