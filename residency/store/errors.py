"""Errors of the history store: one line naming the database and what is wrong.

Every failure is either *transient* (worth retrying: the file is locked, the server
refused or dropped the connection) or *permanent* (retrying cannot help: the file is
read-only, corrupt, not a database, or has a newer schema). Callers that retry
(``residency monitor``) retry only ``StoreTransientError``.
"""

from __future__ import annotations

from residency.errors import ResidencyError


class StoreError(ResidencyError):
    """Base of every history-store failure."""


class StorePermanentError(StoreError):
    """Retrying cannot help: the database must be fixed or another one named."""


class StoreTransientError(StoreError):
    """The database may work again shortly (locked, busy, server unreachable)."""


class StoreUrlInvalid(StorePermanentError):
    """The database URL or path cannot be used as given."""


class StoreUnavailable(StoreTransientError):
    """The database cannot be reached (server down, refused, connection lost)."""


class StoreLocked(StoreTransientError):
    """Another process holds the SQLite file locked for longer than we waited."""


class StoreCorrupt(StorePermanentError):
    """The file is not a residency history database, or is newer than this program."""


class StoreReadOnly(StorePermanentError):
    """The database can be read but not written (file mode, read-only mount, mode=ro)."""


class StoreCannotOpen(StorePermanentError):
    """The SQLite file or its folder cannot be opened or created."""


class StoreMissing(StorePermanentError):
    """A reading command named a store that does not exist (nothing is created)."""


class RunNotFound(StorePermanentError):
    """A run id (or prefix) given by the user does not exist."""
