"""The one timestamp format residency writes: UTC, whole seconds, ``Z``; and its reader.

``2026-12-01T23:11:52Z``: sorts as text, and ``datetime.fromisoformat`` reads it back
(Python 3.11+), so stored values stay readable without a parser of our own. Values
written before this format (``+00:00``, fractions, naive) are still read by
:func:`parse_iso`. A day is ``YYYY-MM-DD`` (:func:`iso_day`). tests/test_timefmt.py keeps
ad-hoc formats out of the rest of the package.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def utc_iso(moment: datetime | float | None = None, *, fraction: bool = False) -> str:
    """``moment`` (an aware datetime, epoch seconds, or now) as ``YYYY-MM-DDTHH:MM:SSZ``;
    with ``fraction``, microseconds too (packet times: ``...:SS.ffffffZ``)."""
    if moment is None:
        moment = datetime.now(UTC)
    elif isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ"
    return moment.astimezone(UTC).strftime(pattern)


def iso_day(moment: date | float) -> str:
    """A calendar day as ``YYYY-MM-DD`` (a datetime or epoch seconds: its UTC day)."""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    return moment.isoformat()


def iso_month(moment: datetime) -> str:
    """A calendar month as ``YYYY-MM`` (as monthly dataset file names carry it)."""
    return iso_day(moment)[:7]


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time as an aware datetime: ``Z`` or ``+00:00`` or any offset; a naive
    time is taken as UTC. ValueError for anything else."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
