"""The text and JSON views of history results (residency.store.render), line by line."""

from __future__ import annotations

import json
from pathlib import Path

from residency.drift import Change, DriftKind
from residency.model import Verdict
from residency.store import open_store
from residency.store.render import (
    compliance_lines,
    diff_lines,
    json_text,
    no_data_line,
    run_line,
    target_line,
    timeline_lines,
    when_text,
)
from residency.store.types import (
    ComplianceReport,
    DiffEntry,
    EndpointCompliance,
    LocationSeen,
    RunDiff,
    RunInfo,
    WatchTarget,
)
from tests.store.builders import Addr, Host, audit_result


def _run(
    seq: int, run_id: str, verdict: int | None, versions: tuple[tuple[str, str], ...] = ()
) -> RunInfo:
    return RunInfo(
        seq=seq,
        id=run_id,
        kind="audit",
        started="2023-11-14T22:13:20Z",
        finished="2023-11-14T22:13:21Z",
        endpoint_count=2,
        changed_count=1,
        data_versions=versions,
        policy=None,
        verdict=verdict,
        resolvers=(),
        vantages=(),
        worker=None,
    )


def _location(ip: str, country: str | None, asn: int | None, current: bool) -> LocationSeen:
    return LocationSeen(
        ip=ip,
        country=country,
        provider="aws" if country else None,
        region="eu-central-1" if country else None,
        asn=asn,
        first_seen="2023-11-14T22:13:20Z",
        last_seen="2023-11-14T22:40:00Z",
        current=current,
    )


def test_timeline_lines_from_a_recorded_history(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "h.sqlite3"))
    before = Host(
        "api.example.com", (Addr("192.0.2.1"),), cname=("a.cdn.test",), verdict=Verdict.PASS
    )
    after = Host(
        "api.example.com",
        (Addr("192.0.2.9", country="US", region="us-east-1"),),
        verdict=Verdict.FAIL,
    )
    store.record(audit_result("run-aaa", 1_700_000_000, [before], policy=True))
    store.record(audit_result("run-bbb", 1_700_000_600, [after], policy=True))
    timeline = store.history("api.example.com")
    store.close()
    lines = timeline_lines("api.example.com", timeline)
    assert lines[0] == f"api.example.com: 2 state(s), {len(timeline.events)} drift event(s)"
    assert lines[1] == (
        "  2023-11-14T22:13:20Z .. 2023-11-14T22:13:20Z  1 check(s)  PASS  resolved  "
        "CNAME a.cdn.test  192.0.2.1 DE (aws, eu-central-1, AS16509)"
    )
    assert lines[2] == (
        "  2023-11-14T22:23:20Z .. 2023-11-14T22:23:20Z  1 check(s)  FAIL  resolved  "
        "192.0.2.9 US (aws, us-east-1, AS16509)"
    )
    assert lines[3] == "events:"
    assert "  2023-11-14T22:23:20Z  verdict-changed        verdict PASS -> FAIL" in lines
    at = lines.index("locations:")
    assert lines[at + 2] == (
        f"  {'192.0.2.9':<39} {'US aws us-east-1 AS16509':<32} "
        "2023-11-14T22:23:20Z .. 2023-11-14T22:23:20Z  (current)"
    )
    assert json.loads(json_text(timeline))["host"] == "api.example.com"


def test_run_line_with_and_without_verdict() -> None:
    assert run_line(_run(2, "run-b", int(Verdict.FAIL))) == (
        "#2 run-b  audit  2023-11-14T22:13:20Z  2 endpoint(s), 1 changed, verdict FAIL"
    )
    assert run_line(_run(1, "run-a", None)).endswith("2 endpoint(s), 1 changed")


def test_diff_lines_changes_and_none() -> None:
    change = Change(DriftKind.COUNTRY_CHANGED, "192.0.2.1", "DE", "US", "country DE -> US")
    changed = RunDiff(
        _run(1, "run-a", None, (("dbip", "1"),)),
        _run(2, "run-b", None, (("dbip", "2"),)),
        (DiffEntry("https://api.example.com", "api.example.com", (change,)),),
    )
    assert diff_lines(changed) == [
        "from run-a (2023-11-14T22:13:20Z)",
        "  to run-b (2023-11-14T22:13:20Z)",
        "  data versions differ between the two runs",
        "https://api.example.com:",
        f"  {'country-changed':<22} country DE -> US",
    ]
    same = RunDiff(_run(1, "run-a", None), _run(1, "run-a", None), ())
    assert diff_lines(same)[-1] == "no changes" and len(diff_lines(same)) == 3


def test_compliance_lines_and_the_no_data_notice() -> None:
    endpoint = EndpointCompliance(
        endpoint="api.example.com",
        host="api.example.com",
        checks=3,
        compliant_checks=1,
        judged_checks=3,
        uptime=0.25,
        current_verdict=int(Verdict.FAIL),
        locations=(
            _location("192.0.2.1", "DE", 16509, False),
            _location("2001:db8::1", None, None, True),
        ),
    )
    unjudged = EndpointCompliance("b.example", "b.example", 1, 0, 0, None, None, ())
    report = ComplianceReport(
        "2023-11-14T00:00:00Z", "2023-11-16T00:00:00Z", (endpoint, unjudged), rejudged_with="eu 1"
    )
    assert compliance_lines(report) == [
        "compliance from 2023-11-14T00:00:00Z to 2023-11-16T00:00:00Z",
        "re-judged with policy eu 1 from the recorded facts (the verdicts recorded at the time "
        "are not used)",
        "api.example.com: 25.00% compliant (1/3 checks)",
        f"  {'192.0.2.1':<39} {'DE aws eu-central-1':<28} first 2023-11-14T22:13:20Z  "
        "last 2023-11-14T22:40:00Z",
        f"  {'2001:db8::1':<39} {'??':<28} first 2023-11-14T22:13:20Z  last 2023-11-14T22:40:00Z",
        "b.example: not judged (0/0 checks)",
    ]
    assert no_data_line(report) is None
    empty = ComplianceReport("2023-11-01T00:00:00Z", "2023-11-02T00:00:00Z", ())
    assert no_data_line(empty) == (
        "no data: no endpoint was checked between 2023-11-01T00:00:00Z and 2023-11-02T00:00:00Z"
    )
    assert compliance_lines(empty) == [
        "compliance from 2023-11-01T00:00:00Z to 2023-11-02T00:00:00Z"
    ]


def test_target_line_and_times_no_date_can_hold() -> None:
    target = WatchTarget(
        id=1,
        host="a.example",
        display="a.example",
        vantage="DE",
        policy="/p.toml",
        cadence=None,
        min_interval=300.0,
        max_interval=86400.0,
        jitter=0.1,
        source="watch",
        next_due=1_700_000_000.0,
        last_checked=None,
        checks=4,
    )
    assert target_line(target) == (
        "a.example  next 2023-11-14T22:13:20Z  last never  checks 4  "
        "ttl in [300s, 86400s], vantage DE, policy /p.toml"
    )
    assert when_text(1e300) == "invalid (1e+300)"
    assert when_text(None) == "never"


def test_json_text_of_a_list_and_of_plain_values() -> None:
    assert json.loads(json_text([_run(1, "run-a", None)]))[0]["id"] == "run-a"
    assert json_text(Path("/x")) == '"/x"'
