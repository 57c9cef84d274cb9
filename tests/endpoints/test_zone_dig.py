"""Zone files (BIND format) and saved dig output as recorded answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.endpoints import InputUnreadable, ReadOptions, read_input
from tests.support import FIXTURES

ZONES = FIXTURES / "endpoints"


def _observed(targets_endpoint_observed: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(o.ip, o.context) for o in targets_endpoint_observed]  # type: ignore[attr-defined]


def test_zone_without_origin_takes_it_from_the_file_name() -> None:
    targets = read_input(ZONES / "db.shop.example")
    by_host = {e.host: e for e in targets.endpoints}
    assert sorted(by_host) == [
        "api.shop.example",
        "cdn.shop.example",
        "ns1.shop.example",
        "pay.shop.example",
        "shop.example",
        "www.shop.example",
    ]
    assert _observed(by_host["api.shop.example"].observed) == [
        ("192.0.2.10", "zone file A"),
        ("2001:db8::10", "zone file AAAA"),
    ]
    assert _observed(by_host["www.shop.example"].observed) == [
        ("192.0.2.1", "zone file A via shop.example")
    ]
    assert _observed(by_host["pay.shop.example"].observed) == [
        ("192.0.2.10", "zone file A via api.shop.example"),
        ("2001:db8::10", "zone file AAAA via api.shop.example"),
    ]
    # Points out of the zone: nothing recorded here, re-resolution will tell.
    assert by_host["cdn.shop.example"].observed == ()
    assert targets.problems == ()
    assert any("origin shop.example. taken from the file name" in n for n in targets.notes)
    assert any("1 wildcard owner(s) skipped" in n for n in targets.notes)


def test_zone_origin_option_wins(tmp_path: Path) -> None:
    path = tmp_path / "zonefile"
    path.write_text("$TTL 60\nwww A 192.0.2.1\n")
    targets = read_input(path, fmt="zone", options=ReadOptions(zone_origin="corp.example"))
    assert [e.host for e in targets.endpoints] == ["www.corp.example"]


def test_zone_without_any_origin_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "zonefile"
    path.write_text("$TTL 60\nwww A 192.0.2.1\n")
    with pytest.raises(InputUnreadable, match=r"zone origin unknown.*--zone-origin"):
        read_input(path, fmt="zone")


def test_zone_syntax_errors_name_their_lines_and_the_rest_is_read() -> None:
    path = ZONES / "broken.zone"
    targets = read_input(path)
    assert [(p.origin, p.entry) for p in targets.problems[:2]] == [
        (f"{path}:7", "bad      A     999.1.1.1"),
        (f"{path}:8", "typo     IN FOO 1"),
    ]
    assert all("zone syntax error" in p.problem for p in targets.problems[:2])
    assert "unknown rdatatype 'FOO'" in targets.problems[1].problem
    hosts = {e.host for e in targets.endpoints}
    assert {"good.broken.example", "also.broken.example", "ns.broken.example"} <= hosts
    assert "bad.broken.example" not in hosts
    loop = [p for p in targets.problems if "CNAME loop" in p.problem]
    assert [p.entry for p in loop] == ["loop1.broken.example", "loop2.broken.example"]


def test_binary_junk_is_not_a_zone(tmp_path: Path) -> None:
    path = tmp_path / "junk.zone"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputUnreadable, match="not UTF-8"):
        read_input(path)


def test_real_dig_output_gives_the_question_with_its_recorded_chain() -> None:
    targets = read_input(ZONES / "alias.dig")
    assert len(targets.endpoints) == 1
    endpoint = targets.endpoints[0]
    assert endpoint.host == "alias.capture.test"
    assert _observed(endpoint.observed) == [("127.0.0.3", "dig answer A via web.capture.test")]
    assert endpoint.observed[0].when == "2026-11-28T05:30:08Z"


def test_bare_dig_answer_lines_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "answers.dig"
    path.write_text(
        "api.example.com.   300 IN CNAME api.eu-west-1.elb.example.net.\n"
        "api.eu-west-1.elb.example.net. 60 IN A 192.0.2.5\n"
        "api.eu-west-1.elb.example.net. 60 IN A 192.0.2.6\n"
        "v6.example.com. 30 IN AAAA 2001:db8::6\n"
        "broken.example.com. 30 IN A 2001:db8::7\n"
    )
    targets = read_input(path)
    by_host = {e.host: e for e in targets.endpoints}
    assert list(by_host) == ["api.example.com", "v6.example.com"]
    assert [o.ip for o in by_host["api.example.com"].observed] == ["192.0.2.5", "192.0.2.6"]
    assert by_host["v6.example.com"].observed[0].context == "dig answer AAAA"
    assert [p.problem for p in targets.problems] == ["A record with a version 6 address"]
    assert targets.problems[0].origin == f"{path}:5"
