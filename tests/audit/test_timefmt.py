"""One timestamp format everywhere residency writes one: ``YYYY-MM-DDTHH:MM:SSZ``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from residency.timefmt import utc_iso

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_utc_iso_is_whole_seconds_z_and_reads_back() -> None:
    moment = datetime(2026, 12, 1, 23, 11, 52, 987654, tzinfo=timezone(timedelta(hours=2)))
    text = utc_iso(moment)
    assert text == "2026-12-01T21:11:52Z"
    assert datetime.fromisoformat(text) == moment.replace(microsecond=0)
    assert utc_iso(0) == "1970-01-01T00:00:00Z"
    assert STAMP.match(utc_iso())


def test_an_audit_run_is_stamped_in_the_one_format(tmp_path: Path) -> None:
    from residency.audit.core import Auditor
    from residency.model import DataVersion, IpFacts

    class Nowhere:
        def locate(self, ip: str, hints: object = (), registration: object = None) -> IpFacts:
            return IpFacts(ip=ip, routable=False)

        def data_versions(self) -> tuple[DataVersion, ...]:
            return ()

    result = Auditor(None, Nowhere()).audit([])
    assert STAMP.match(result.started) and STAMP.match(result.finished)
    assert datetime.fromisoformat(result.started).tzinfo == UTC


def test_dig_times_are_read_into_the_one_format(tmp_path: Path) -> None:
    from residency.endpoints.dig import _when

    assert _when("Sat Nov 28 05:21:37 UTC 2026") == "2026-11-28T05:21:37Z"
