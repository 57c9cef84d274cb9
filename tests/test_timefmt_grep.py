"""residency/timefmt.py is the one writer and reader of timestamps: no ad-hoc formats."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from residency import timefmt
from tests.support import grep_offenders, stale_allowances

#: Writing a time by hand, or patching ``Z``/``+00:00`` in or out of one.
_FORBIDDEN = re.compile(
    r"\.isoformat\(|\.strftime\(|\.strptime\(|\+00:00|\.utcnow\(|\.replace\(\"Z\""
)

#: Deliberate exceptions, as (file relative to residency/, text on the line) -> reason.
ALLOWED: dict[tuple[str, str], str] = {
    ("endpoints/dig.py", "datetime.strptime(text, fmt)"): "reads dig's own WHEN line (its "
    "format, not ours) and writes it with utc_iso",
}


def test_timestamps_are_written_and_read_only_in_timefmt() -> None:
    offenders = grep_offenders(_FORBIDDEN, "timefmt.py", ALLOWED)
    assert offenders == [], "use residency.timefmt (utc_iso, iso_day, parse_iso)"


def test_every_allowed_exception_still_exists() -> None:
    assert stale_allowances(ALLOWED) == []


def test_one_format_written_both_read() -> None:
    moment = datetime(2026, 12, 1, 23, 11, 52, 250000, tzinfo=UTC)
    assert timefmt.utc_iso(moment) == "2026-12-01T23:11:52Z"
    assert timefmt.utc_iso(moment, fraction=True) == "2026-12-01T23:11:52.250000Z"
    assert timefmt.utc_iso(moment.timestamp()) == "2026-12-01T23:11:52Z"
    assert timefmt.iso_day(moment) == timefmt.iso_day(date(2026, 12, 1)) == "2026-12-01"
    assert timefmt.iso_month(moment) == "2026-12"
    for old_or_new in ("2026-12-01T23:11:52Z", "2026-12-01T23:11:52+00:00", "2026-12-01T23:11:52"):
        assert timefmt.parse_iso(old_or_new) == moment.replace(microsecond=0)
    assert timefmt.parse_iso("2026-12-02T00:11:52+01:00") == moment.replace(microsecond=0)
