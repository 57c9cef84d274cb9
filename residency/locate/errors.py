"""The error family of the locate stage."""

from __future__ import annotations

from residency.errors import ResidencyError


class LocateError(ResidencyError):
    """Locating failed as a whole (no dataset, unreadable index)."""


class InvalidAddress(LocateError):
    """An input that is not an IPv4 or IPv6 address."""
