"""Errors raised while reading endpoint inputs (names, lists, HAR, captures, zones, dig)."""

from __future__ import annotations

from residency.errors import ResidencyError


class InputError(ResidencyError):
    """An input (an argument, a file or stdin) could not be read as asked."""


class InvalidEntry(InputError):
    """One entry (a name, URL or address) is malformed; ``str`` says why."""


class InputUnreadable(InputError):
    """A whole input is unusable: missing file, not JSON, unknown link type..."""


class UnknownFormat(InputError):
    """The format of an input was named but is not one residency reads."""
