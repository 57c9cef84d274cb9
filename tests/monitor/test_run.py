"""The monitor run as cli.py asks for it: metrics, webhook sinks, and what stops it early."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from residency.audit.run import AuditRequest
from residency.cli import cli
from residency.monitor.alert_formats import WEBHOOK_FORMATS, AlertmanagerFormat, webhook_sink
from residency.monitor.metrics import MetricsError, MonitorMetrics, open_metrics
from residency.monitor.run import MonitorRequest, NothingToMonitor, run_monitor
from residency.store import open_store


def test_no_metrics_unless_asked(tmp_path: Path) -> None:
    metrics, stop = open_metrics(None, None)
    assert metrics is None
    stop()
    metrics, stop = open_metrics(None, tmp_path / "m.prom")
    assert isinstance(metrics, MonitorMetrics)
    stop()
    with pytest.raises(MetricsError, match="does not exist"):
        open_metrics(None, tmp_path / "nowhere" / "m.prom")
    with pytest.raises(MetricsError, match="expected ADDR:PORT"):
        open_metrics("nonsense", None)


def test_webhook_sink_per_format(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "h.sqlite3"))
    with httpx.Client() as client:
        sinks = {
            form: webhook_sink("http://127.0.0.1:9/x", client, form, store)
            for form in WEBHOOK_FORMATS
        }
    store.close()
    assert sinks["json"].payload_format is None and not sinks["json"].slack
    assert sinks["slack"].slack
    assert isinstance(sinks["alertmanager"].payload_format, AlertmanagerFormat)
    assert len({sink.channel for sink in sinks.values()}) == 3


def test_cli_offers_exactly_the_webhook_formats() -> None:
    monitor = cli.commands["monitor"]
    (option,) = [p for p in monitor.params if p.name == "webhook_format"]
    assert tuple(option.type.choices) == WEBHOOK_FORMATS  # type: ignore[attr-defined]


def test_no_targets_stops_before_any_data_is_loaded(tmp_path: Path) -> None:
    missing_data = tmp_path / "no-dataset"  # never read: the check comes first
    with pytest.raises(NothingToMonitor, match=r"^nothing to monitor: add targets"):
        run_monitor(
            MonitorRequest(
                once=True,
                db=str(tmp_path / "h.sqlite3"),
                audit=AuditRequest(data_dir=missing_data),
            )
        )


def test_metrics_are_checked_before_the_store_is_opened(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    with pytest.raises(MetricsError):
        run_monitor(MonitorRequest(once=True, db=str(db), metrics_listen="nonsense"))
    assert not db.exists()  # never created: reading commands still say there is none
