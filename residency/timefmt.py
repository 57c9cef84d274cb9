"""The one timestamp format residency writes: UTC, whole seconds, ``Z``; and its reader.

``2026-12-01T23:11:52Z``: sorts as text, and ``datetime.fromisoformat`` reads it back
(Python 3.11+), so stored values stay readable without a parser of our own. Values
written before this format (``+00:00``, fractions, naive) are still read by
:func:`parse_iso`. A day is ``YYYY-MM-DD`` (:func:`iso_day`). tests/test_timefmt.py keeps
ad-hoc formats out of the rest of the package. Durations (``30s``, ``5m``, ``1d``) are
read by :func:`parse_duration`; a report's ``--since``/``--until`` by :func:`parse_period`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from residency.errors import UsageError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}

#: No duration the tool takes is meaningful beyond a century; larger ones overflow dates.
MAX_DURATION = 100 * 365.25 * 86400.0

#: Report periods stay within the Unix era and the years datetime can print.
EARLIEST = 0.0
LATEST = 253402300799.0  # 9999-12-31T23:59:59Z


class PeriodInvalid(UsageError):
    """A report period bound that is not a time, is out of range, or an empty period."""


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


def parse_duration(value: str | float | int) -> float:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"1h"``, ``"2d"``, ``"1w"``; ValueError if bad
    (also beyond ``MAX_DURATION``: such a value only overflows the dates built from it)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower()
        unit = _UNITS.get(text[-1:]) if text else None
        number = text[:-1] if unit else text
        try:
            seconds = float(number) * (unit or 1.0)
        except ValueError:
            raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 5m, 1h, 1d)") from None
    if seconds <= 0 or seconds != seconds:
        raise ValueError(f"{value!r} is not a positive duration")
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than 100 years")
    return seconds


def parse_moment(value: str, what: str, now: float) -> float:
    """Epoch seconds of an ISO date/time (1970 .. 9999), or of a duration back from
    ``now`` (``30d``, at most 100 years). PeriodInvalid naming ``what`` otherwise."""
    shown = value if len(value) <= 80 else value[:77] + "..."
    try:
        moment_ts = now - parse_duration(value)
    except ValueError as err:
        if "100 years" in str(err):
            raise PeriodInvalid(
                f"{what} {shown!r}: a span back from now must be at most 100 years"
            ) from None
        try:
            moment = parse_iso(value)
        except ValueError:
            raise PeriodInvalid(
                f"{what} {shown!r} is not a date (YYYY-MM-DD), a time (ISO 8601)"
                " or a span such as 30d"
            ) from None
        try:
            moment_ts = moment.timestamp()
        except (OverflowError, ValueError, OSError):
            moment_ts = -1.0
    if not EARLIEST <= moment_ts <= LATEST:
        raise PeriodInvalid(f"{what} {shown!r} is outside 1970-01-01 .. 9999-12-31")
    return moment_ts


def parse_period(since: str, until: str | None, now: float) -> tuple[float, float]:
    """A report's ``--since``/``--until`` (default ``now``) as epoch seconds, start
    before end; PeriodInvalid when either is not a time or the period is empty."""
    start = parse_moment(since, "--since", now)
    end = parse_moment(until, "--until", now) if until else now
    if until is None and start >= now:
        raise PeriodInvalid(f"report: no data in the period: --since {since} is in the future")
    if end <= start:
        raise PeriodInvalid(f"report: empty period: --until {until} is not after --since {since}")
    return start, end
