"""The root of every error the library raises on purpose.

Each stage folder subclasses ``ResidencyError`` with its own family
(``DatasetError``, ``ResolveError``, ``PolicyError``, ``StoreError``, ...).
Only ``cli.py`` turns these into one-line messages and exit codes.
"""

from __future__ import annotations


class ResidencyError(Exception):
    """Base of all expected, user-facing failures. ``str(err)`` is the one line shown."""


class UsageError(ResidencyError):
    """The caller asked for something that cannot be done as asked (exit 2)."""
