"""The control stage's error family."""

from __future__ import annotations

from residency.errors import ResidencyError


class ControlError(ResidencyError):
    """Base of every error the control stage raises."""


class ControlTableInvalid(ControlError):
    """A shipped control table (organisations, customer suffixes, sovereign clouds) is
    malformed: a packaging bug, named with the file and the entry."""


class GleifUnavailable(ControlError):
    """The GLEIF API could not be asked (offline, refused, rate-limited, garbage)."""
