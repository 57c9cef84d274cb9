"""HAR files: the real retail page, Firefox and mitmproxy flavours, and bad HAR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from residency.endpoints import InputUnreadable, UnknownFormat, read_input, read_targets
from tests.support import FIXTURES, shared


def test_real_chromium_har_has_174_requests_to_41_hosts_each_with_its_address() -> None:
    path = shared("har", "pagexray-ferguson_2022-02-04.har")
    entries = json.loads(path.read_bytes())["log"]["entries"]
    assert len(entries) == 174
    targets = read_input(path)
    assert len(targets.endpoints) == 41
    assert targets.problems == () and targets.notes == ()
    assert all(e.observed and not e.is_ip for e in targets.endpoints)
    # Every request is accounted for, under the page that made it.
    total = 0
    for endpoint in targets.endpoints:
        for seen in endpoint.observed:
            assert seen.context.startswith("HAR page_1 (https://www.ferguson.com run 1): ")
            count = seen.context.split(": ", 2)[1].split()[0]
            total += int(count)
    assert total == 174
    first = targets.endpoints[0]
    assert first.host == "www.ferguson.com"
    assert first.observed[0].ip == "2.22.238.114"
    assert first.observed[0].when == "2022-02-04T05:23:40.045Z"
    assert "GET https://www.ferguson.com/;" in first.observed[0].context
    assert first.observed[0].context.endswith("(+79 more)")  # bounded: three requests shown


def test_firefox_har_groups_requests_per_address_and_notes_what_was_not_recorded() -> None:
    path = FIXTURES / "endpoints" / "firefox.har"
    targets = read_input(path)
    by_host = {e.host: e for e in targets.endpoints}
    assert list(by_host) == ["shop.example", "cdn.example", "ads.example"]
    shop = by_host["shop.example"].observed
    assert [(o.ip, o.when) for o in shop] == [("2001:db8::10", "2024-05-01T10:00:00.050+02:00")]
    assert shop[0].context == (
        "HAR page_1 (Shop): 2 requests: GET https://shop.example/; POST https://shop.example/api/cart"
    )
    assert [o.ip for o in by_host["cdn.example"].observed] == ["2001:db8::20", "192.0.2.20"]
    assert by_host["ads.example"].observed == ()
    assert targets.problems == ()
    assert any("ads.example: server address not recorded for 1 request" in n for n in targets.notes)
    assert any("1 data: URLs skipped" in n for n in targets.notes)


def test_mitmproxy_har_without_pages_or_addresses_degrades_to_not_recorded() -> None:
    path = FIXTURES / "endpoints" / "mitmproxy.har"
    targets = read_input(path)
    by_host = {e.host: e for e in targets.endpoints}
    assert list(by_host) == ["telemetry.example", "tunnel.example"]
    telemetry = by_host["telemetry.example"].observed
    assert [o.ip for o in telemetry] == ["198.51.100.7"]
    assert telemetry[0].context.startswith("HAR no page: 1 request: GET https://telemetry.example/")
    assert by_host["tunnel.example"].observed[0].ip == "198.51.100.9"
    assert by_host["tunnel.example"].observed[0].when is None
    assert [p.problem for p in targets.problems] == ["host name contains white space"]
    assert targets.problems[0].origin == f"{path} entry 2"


def test_har_that_is_not_json_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.har"
    path.write_text('{"log": {"entries": [\n  {"request": }\n')
    with pytest.raises(InputUnreadable) as caught:
        read_input(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: HAR file is not JSON: ")
    assert "\n" not in message
    # Through read_targets it becomes a problem and the other targets still count.
    targets = read_targets([str(path), "ok.example"])
    assert [e.host for e in targets.endpoints] == ["ok.example"]
    assert "HAR file is not JSON" in targets.problems[0].problem


def test_json_that_is_not_a_har_says_so(tmp_path: Path) -> None:
    path = tmp_path / "other.har"
    path.write_text('{"hello": 1}')
    with pytest.raises(InputUnreadable, match="not a HAR file"):
        read_input(path)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(UnknownFormat, match="unknown input format 'csv'"):
        read_input(FIXTURES / "endpoints" / "firefox.har", fmt="csv")
