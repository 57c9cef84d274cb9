"""Monitor metrics: what the hooks count, naming, bounded labels, the textfile form."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from residency import __version__
from residency.model import DataVersion, Outcome, Verdict
from residency.monitor.loop import Monitor
from residency.monitor.metrics import MetricsError, MonitorMetrics, parse_listen, rdap_reason
from residency.store import Store, TargetSpec, open_store
from tests.monitor.fakes import FakeAudit, FakeClock
from tests.store.builders import Addr, Host


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "h.sqlite3"))
    yield opened
    opened.close()


def samples(metrics: MonitorMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_checks_drift_verdicts_schedule_and_datasets(store: Store) -> None:
    clock = FakeClock()
    audit = FakeAudit(clock)
    audit.world = {
        "a.example": Host("a.example", (Addr("192.0.2.1", "DE"),), verdict=Verdict.PASS),
        "b.example": Host("b.example", outcome=Outcome.SERVFAIL),
    }
    store.add_targets(
        [TargetSpec("a.example", jitter=0), TargetSpec("b.example", jitter=0)], clock.now
    )
    metrics = MonitorMetrics(
        clock=clock, data_versions=[DataVersion("dbip-country", "1970-01", "1970-01-01T00:00:00Z")]
    )
    monitor = Monitor(store, audit, clock=clock, sleep=clock.advance, observer=metrics)
    monitor.run_once()
    first = samples(metrics)
    # A first sight is a new state: counted as changed.
    assert first[("residency_checks_total", (("outcome", "changed"),))] == 2
    assert first[("residency_checks_total", (("outcome", "unchanged"),))] == 0
    assert first[("residency_dns_errors_total", (("outcome", "servfail"),))] == 1
    assert first[("residency_targets", ())] == 2
    assert first[("residency_targets_due", ())] == 0
    assert first[("residency_batch_duration_seconds_count", ())] == 1

    # The address moves country: a drift event, a verdict change, one changed check.
    audit.world["a.example"] = Host("a.example", (Addr("192.0.2.1", "US"),), verdict=Verdict.FAIL)
    clock.advance(100_000)
    monitor.run_once()
    second = samples(metrics)
    assert second[("residency_checks_total", (("outcome", "changed"),))] == 3
    assert second[("residency_checks_total", (("outcome", "unchanged"),))] == 1
    assert second[("residency_drift_events_total", (("kind", "country-changed"),))] == 1
    assert second[("residency_drift_events_total", (("kind", "verdict-changed"),))] == 1
    assert second[("residency_drift_events_total", (("kind", "cname-changed"),))] == 0
    verdicts = {
        labels: value
        for (name, labels), value in second.items()
        if name == "residency_targets_by_verdict"
    }
    assert verdicts == {
        (("policy", "eu-only"), ("verdict", "FAIL")): 1,
        (("policy", ""), ("verdict", "unjudged")): 1,
    }
    assert second[("residency_info", (("version", __version__),))] == 1
    assert second[("residency_dataset_info", (("dataset", "aws-ip-ranges"), ("version", "v1")))]
    assert second[("residency_dataset_age_seconds", (("dataset", "dbip-country"),))] == clock.now

    # Nothing claimed meanwhile: targets fall due and the lag is how long the oldest waited.
    clock.advance(200_000)
    metrics.targets_seen(store.list_targets(), force=True)
    third = samples(metrics)
    assert third[("residency_targets_due", ())] == 2
    assert third[("residency_schedule_lag_seconds", ())] > 100_000


def test_no_label_is_an_address_or_a_host(store: Store) -> None:
    clock = FakeClock()
    audit = FakeAudit(clock)
    audit.world = {"a.example": Host("a.example", (Addr("192.0.2.1"),), verdict=Verdict.PASS)}
    store.add_targets([TargetSpec("a.example"), TargetSpec("192.0.2.9")], clock.now)
    metrics = MonitorMetrics(clock=clock)
    Monitor(store, audit, clock=clock, sleep=clock.advance, observer=metrics).run_once()
    for (_, labels), _value in samples(metrics).items():
        for _key, value in labels:
            assert "example" not in value
            with pytest.raises(ValueError):
                ipaddress.ip_address(value)


def test_textfile_is_parsable_and_replaced(tmp_path: Path) -> None:
    metrics = MonitorMetrics()
    path = tmp_path / "residency.prom"
    path.write_text("stale")
    metrics.write_textfile(path)
    names = {f.name for f in text_string_to_metric_families(path.read_text())}
    assert {"residency_checks", "residency_drift_events", "residency_info"} <= names
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    assert parse_listen(":9464") == ("127.0.0.1", 9464)  # loopback unless an address is given
    assert parse_listen("0.0.0.0:9464") == ("0.0.0.0", 9464)
    for bad in ("9464", "127.0.0.1:0", "127.0.0.1:99999", "example.org:9464", "1.2.3.4:x"):
        with pytest.raises(MetricsError, match="--metrics"):
            parse_listen(bad)


def test_port_in_use_is_a_metrics_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsError, match=f"127.0.0.1:{port}"):
            MonitorMetrics().serve("127.0.0.1", port)


def test_rdap_reasons_are_bounded() -> None:
    assert rdap_reason("timed out after 5s at rdap.example") == "timeout"
    assert rdap_reason("HTTP 429 (rate-limited)") == "rate-limited"
    assert rdap_reason("RDAP service unreachable: connection refused") == "unreachable"
    assert rdap_reason("malformed answer: bad network range") == "malformed"
    assert rdap_reason("something new") == "other"
    assert rdap_reason("not a public address: no RDAP registration") is None
