"""HAR as mitmproxy (``save.har``, ``.zhar``) and HTTP Toolkit export it: their documented
shapes, written here as small fixtures, read with the address each one recorded."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from residency.endpoints import InputUnreadable, read_input
from residency.endpoints.interface import Targets
from tests.support import FIXTURES

MITMPROXY = FIXTURES / "endpoints" / "mitmproxy-savehar.har"
HTTPTOOLKIT = FIXTURES / "endpoints" / "httptoolkit.har"


def observed(targets: Targets) -> dict[str, set[str]]:
    return {e.host: {o.ip for o in e.observed} for e in targets.endpoints}


def test_mitmproxy_har_keeps_each_peer_address() -> None:
    targets = read_input(MITMPROXY)
    assert observed(targets) == {
        "api.shop.example": {"203.0.113.20"},
        # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: it was IPv4 on the wire
        "events.tracker.example": {"198.51.100.7"},
        "v6.shop.example": {"2001:db8::5"},  # IPv6 peers are written without brackets
        "gone.shop.example": set(),  # the connection failed: no peer, still audited
    }
    events = next(e for e in targets.endpoints if e.host == "events.tracker.example")
    assert events.observed[0].when == "2026-11-30T09:15:02.400000+00:00"
    assert "POST https://events.tracker.example/collect" in events.observed[0].context
    assert any("gone.shop.example: server address not recorded" in n for n in targets.notes)


def test_mitmproxy_zhar_is_read_like_the_har(tmp_path: Path) -> None:
    compressed = tmp_path / "flows.zhar"
    compressed.write_bytes(zlib.compress(MITMPROXY.read_bytes(), 9))
    assert observed(read_input(compressed)) == observed(read_input(MITMPROXY))
    damaged = tmp_path / "damaged.zhar"
    damaged.write_bytes(zlib.compress(MITMPROXY.read_bytes(), 9)[:-40] + b"\x00" * 40)
    with pytest.raises(InputUnreadable) as caught:
        read_input(damaged)
    assert str(caught.value).startswith(f"{damaged}:") and "\n" not in str(caught.value)


def test_http_toolkit_har_reads_pages_as_sources_and_bracketed_addresses() -> None:
    targets = read_input(HTTPTOOLKIT)
    assert observed(targets) == {
        "api.shop.example": set(),  # HTTP Toolkit writes no serverIPAddress for it
        "graph.facebook.com": {"157.240.1.35"},
        "2001:db8::9": {"2001:db8::9"},
    }
    facebook = next(e for e in targets.endpoints if e.host == "graph.facebook.com")
    assert facebook.observed[0].context.startswith("HAR Android app (com.example.shop)")
    assert facebook.observed[0].when == "2026-11-30T10:15:03+01:00"
    assert any("api.shop.example: server address not recorded" in n for n in targets.notes)
