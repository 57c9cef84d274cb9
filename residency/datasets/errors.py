"""Errors of the data layer: a feed that cannot be fetched, or one that cannot be read."""

from __future__ import annotations

from residency.errors import ResidencyError


class DatasetError(ResidencyError):
    """Base of every failure while getting, reading or compiling datasets."""


class FeedUnavailable(DatasetError):
    """A feed could not be obtained (network, mirror, missing file); ``str`` names it."""


class FeedInvalid(DatasetError):
    """A feed's content is truncated, of the wrong format or empty.

    The message starts with the dataset id, e.g. ``"aws-ip-ranges: invalid JSON ..."``.
    """


class RegionTableInvalid(DatasetError):
    """A region table in ``data/regions/`` is malformed; ``str`` names file and line."""
