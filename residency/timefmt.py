"""The one timestamp format residency writes: UTC, whole seconds, ``Z``.

``2026-12-01T23:11:52Z``: sorts as text, and ``datetime.fromisoformat`` reads it back
(Python 3.11+), so stored values stay readable without a parser of our own.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_iso(moment: datetime | float | None = None) -> str:
    """``moment`` (an aware datetime, epoch seconds, or now) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if moment is None:
        moment = datetime.now(UTC)
    elif isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
