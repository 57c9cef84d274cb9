"""Drift test: change a zone on a real local DNS server between two monitor runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from residency.model import DataVersion, IpFacts, Verdict
from residency.monitor.loop import Monitor
from residency.resolve.engine import ChainResolver, ResolverSettings
from residency.store import TargetSpec, open_store
from tests.integration.dnsserver import KnotServer, Zone, zone
from tests.monitor.fakes import FakeClock
from tests.monitor.resolve_locate import ResolveLocateAudit
from tests.monitor.test_monitor import RecordingSink
from tests.store.builders import Addr, facts_for

pytestmark = pytest.mark.integration

PLACES = {
    "192.0.2.10": Addr("192.0.2.10", "DE", "aws", "eu-central-1", 16509),
    "192.0.2.11": Addr("192.0.2.11", "DE", "aws", "eu-central-1", 16509),
    "198.51.100.20": Addr("198.51.100.20", "US", "aws", "us-east-1", 16509),
}


def locate_many(ips: Sequence[str]) -> list[IpFacts]:
    """Stands in for the Locator: the places of the test addresses."""
    return [facts_for(PLACES[ip]) for ip in ips]


def test_zone_change_gives_the_right_events(
    make_dns_server: Callable[[list[Zone]], KnotServer], tmp_path: Path
) -> None:
    server = make_dns_server(
        [zone("drift.test", "www CNAME edge1\nedge1 A 192.0.2.10\nedge1 A 192.0.2.11")]
    )
    clock = FakeClock()
    store = open_store(str(tmp_path / "h.sqlite3"))
    # Location only: the shipped eu-only-gdpr also judges the recipient (an unnamed
    # controller is WARN), which this test of location drift does not exercise.
    policy = tmp_path / "eu-location.toml"
    policy.write_text('name = "eu location"\nversion = "1"\n[countries]\nallow = ["@EEA"]\n')
    store.add_targets(
        [TargetSpec("www.drift.test", policy=str(policy), min_interval=60, jitter=0)], clock()
    )
    resolver = ChainResolver(ResolverSettings(nameservers=(server.address,), timeout=2.0))
    audit = ResolveLocateAudit(
        resolver, locate_many, (DataVersion("test-places", "1"),), clock=clock
    )
    sink = RecordingSink()
    monitor = Monitor(store, audit, clock=clock, sinks=[sink])
    try:
        first = monitor.run_once()
        assert first.checked == 1 and first.events == 0
        (target,) = store.list_targets()
        assert target.next_due == clock() + 300  # the zone's TTL, within [60 s, 1 d]
        (span,) = store.history("www.drift.test").spans
        assert span.verdict == int(Verdict.PASS)

        server.set_zone(
            zone(
                "drift.test", "www CNAME edge2\nedge2 A 198.51.100.20\nedge1 A 192.0.2.10", serial=2
            )
        )
        clock.advance(299)
        assert monitor.run_once().checked == 0  # not due yet
        clock.advance(1)
        second = monitor.run_once()
        assert second.checked == 1
    finally:
        store.close()
        resolver.close()

    got = sorted((e.kind.value, e.ip or "", e.after or "") for e in sink.sent)
    assert got == [
        ("address-appeared", "198.51.100.20", "US (aws, us-east-1, AS16509)"),
        ("address-disappeared", "192.0.2.10", ""),
        ("address-disappeared", "192.0.2.11", ""),
        ("cname-changed", "", "edge2.drift.test"),
        ("verdict-changed", "", "FAIL"),
    ]
