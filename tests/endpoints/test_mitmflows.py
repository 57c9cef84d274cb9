"""mitmproxy flow files, read without the mitmproxy package (endpoints/mitmflows.py).

``mitmproxy.flows`` was written by a real mitmdump (tests/fixtures/endpoints/
make_mitm_flows.py); older formats and hostile files are made here from it, with the
tnetstring writer below (the format is four lines of grammar)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from residency.endpoints import mitmflows, read_input, read_targets
from residency.endpoints.detect import detect_format
from residency.endpoints.errors import InputUnreadable
from residency.endpoints.interface import ReadOptions
from residency.endpoints.mitmflows import MitmFlowsReader, loads, read_flows
from tests.support import FIXTURES

FLOWS = FIXTURES / "endpoints" / "mitmproxy.flows"


def dumps(value: Any) -> bytes:
    """A tnetstring, as mitmproxy writes them."""
    if value is None:
        return b"0:~"
    if isinstance(value, bool):
        body, kind = (b"true" if value else b"false"), b"!"
    elif isinstance(value, int):
        body, kind = str(value).encode(), b"#"
    elif isinstance(value, float):
        body, kind = repr(value).encode(), b"^"
    elif isinstance(value, bytes):
        body, kind = value, b","
    elif isinstance(value, str):
        body, kind = value.encode(), b";"
    elif isinstance(value, list):
        body, kind = b"".join(dumps(v) for v in value), b"]"
    else:
        body, kind = b"".join(dumps(k) + dumps(v) for k, v in value.items()), b"}"
    return frame(body, kind)


def frame(body: bytes, kind: bytes) -> bytes:
    return str(len(body)).encode() + b":" + body + kind


def real_flows() -> list[dict[str, Any]]:
    with FLOWS.open("rb") as stream:
        return [f for f in read_flows(stream) if isinstance(f, dict)]


def read(data: bytes, name: str = "flows.mitm") -> Any:
    return MitmFlowsReader().read(io.BytesIO(data), name, ReadOptions())


def test_a_real_mitmdump_file_gives_each_server_with_the_address_connected_to() -> None:
    assert detect_format(FLOWS.read_bytes()[:65536], str(FLOWS)) == "mitmproxy"
    targets = read_targets([str(FLOWS)])  # as `residency audit mitmproxy.flows` reads it
    assert [e.host for e in targets.endpoints] == ["localhost"]
    seen = targets.endpoints[0].observed
    assert [o.ip for o in seen] == ["127.0.0.1", "127.0.0.1"]
    assert [o.context.split(": ", 1)[1] for o in seen] == [
        "GET http://localhost/plain",
        "GET https://localhost/tls",
    ]
    assert seen[0].when is not None and seen[0].when.endswith("Z")
    assert f"{FLOWS}: 1 flow(s) recorded no server address" in " ".join(targets.notes)
    assert f"{FLOWS}: 3 mitmproxy flow(s)" in targets.notes
    assert real_flows()[0]["version"] == 21


def test_an_older_format_names_the_address_ip_address() -> None:
    """Formats before 19 keep the connected address as ``ip_address``."""
    flow = real_flows()[1]
    server = dict(flow["server_conn"])
    server["ip_address"] = server.pop("peername")
    old = {**flow, "version": 18, "server_conn": server}
    targets = read(dumps(old))
    assert [(e.host, [o.ip for o in e.observed]) for e in targets.endpoints] == [
        ("localhost", ["127.0.0.1"])
    ]


def test_a_newer_format_and_an_upstream_proxy_are_said() -> None:
    flow = real_flows()[0]
    proxied = {
        **flow,
        "version": 99,
        "server_conn": {**flow["server_conn"], "via": ["http", ["proxy.example", 3128]]},
    }
    targets = read(dumps(proxied))
    assert targets.endpoints[0].observed == ()  # the proxy's address is not the server's
    notes = " ".join(targets.notes)
    assert "flow format 99 is newer than residency knows (21)" in notes
    assert "1 flow(s) went through an upstream proxy" in notes


def test_a_hostile_host_is_an_input_problem_and_the_rest_is_read() -> None:
    flow = real_flows()[0]
    request = {**flow["request"], "host": "evil\x1b[2J.example"}
    server = {**flow["server_conn"], "address": ["evil\x1b[2J.example", 80]}
    targets = read(dumps({**flow, "request": request, "server_conn": server}) + FLOWS.read_bytes())
    assert [p.entry for p in targets.problems] == ["evil\x1b[2J.example"]
    assert "name in flow 1" in targets.problems[0].problem
    assert [e.host for e in targets.endpoints] == ["localhost"]


def test_a_file_cut_short_keeps_the_flows_before_the_cut() -> None:
    data = FLOWS.read_bytes()
    targets = read(data[: len(data) - 100])
    assert [e.host for e in targets.endpoints] == ["localhost"]
    assert [p.problem for p in targets.problems] == ["flow 3: cut off at the end of the file"]


def test_a_nesting_bomb_is_refused_without_recursing_into_it() -> None:
    bomb = b"1:x;"
    for _ in range(5000):  # [[[[...["x"]...]]]], framed without recursing either
        bomb = str(len(bomb)).encode() + b":" + bomb + b"]"
    body = dumps("type") + dumps("http") + dumps("request") + bomb
    targets = read(frame(body, b"}") + FLOWS.read_bytes())
    assert [p.problem for p in targets.problems] == ["flow 1: nested more than 32 deep"]
    assert [e.host for e in targets.endpoints] == ["localhost"]


def test_a_flow_over_the_size_bound_is_skipped_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mitmflows, "MAX_FLOW", 4000)  # the real flows are under 2,100 bytes
    big = dumps({"type": "http", "request": {"content": b"x" * 8192}})
    targets = read(big + FLOWS.read_bytes())
    assert [p.problem for p in targets.problems] == [
        f"flow 1: {len(big) - 6} bytes, over the 4000 read"
    ]
    assert [e.host for e in targets.endpoints] == ["localhost"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (frame(dumps("a") + b"1:x#", b"}"), "flow 1: a bad number at byte 6"),
        (frame(dumps("a") + b"0:?", b"}"), "flow 1: unknown type b'?' at byte 8"),
        (frame(dumps("a"), b"}"), "flow 1: a dict at byte 0 has a key without a value"),
        (frame(dumps(1) + dumps(2), b"}"), "flow 1: a dict at byte 0 has a key that is not text"),
        (frame(b"9:x;", b"}"), "flow 1: a value at byte 2 runs past its end"),
        (frame(dumps(None), b"]"), "flow 1: not a flow (a list)"),
    ],
)
def test_broken_flows_are_one_problem_each_and_the_next_is_read(data: bytes, problem: str) -> None:
    targets = read(data + FLOWS.read_bytes())
    assert [p.problem for p in targets.problems] == [problem]
    assert [e.host for e in targets.endpoints] == ["localhost"]


def test_what_is_not_a_flow_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "flows.mitm"
    path.write_bytes(b"GET / HTTP/1.1\r\n")
    with pytest.raises(InputUnreadable, match="not a mitmproxy flow file: no length where flow 1"):
        read_input(path, "mitmproxy")
    with pytest.raises(InputUnreadable, match="no length where flow 1 begins"):
        read(b"9999999999999:")  # a length longer than any flow file
    claimed = read(b"999999999999:" + b"x" * 100)  # a length past the end: read to it, no more
    assert [p.problem for p in claimed.problems] == [
        f"flow 1: 999999999999 bytes, over the {mitmflows.MAX_FLOW} read"
    ]
    assert loads(b"0:~") is None
