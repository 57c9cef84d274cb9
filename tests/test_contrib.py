"""contrib/: the Grafana dashboard and the Prometheus rules use only exported metrics, and
the systemd units the monitoring docs point at are there and well formed."""

from __future__ import annotations

import configparser
import json
import re

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from residency.model import DataVersion
from residency.monitor.metrics import MonitorMetrics
from residency.store import WatchTarget
from tests.support import REPO

CONTRIB = REPO / "contrib"
METRIC = re.compile(r"\bresidency_[a-z_]+\b")


def exported() -> set[str]:
    """Every sample name the monitor can export (with every family populated)."""
    metrics = MonitorMetrics(clock=lambda: 2_000_000_000.0)
    metrics.set_data_versions([DataVersion("dbip-country", "2026-11", "2026-11-01T00:00:00Z")])
    target = WatchTarget(1, "a.example", "a.example", None, None, None, 1, 2, 0, "t", 0, None, 0)
    metrics.targets_seen([target], force=True)
    metrics.verdicts[("a.example", "")] = ("PASS", "eu-only")
    metrics.batch_checked([target], [], 0, 0.1)
    metrics.alerts_sent({"log": 1})
    text = generate_latest(metrics.registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def dashboard_exprs() -> list[str]:
    doc = json.loads((CONTRIB / "grafana" / "residency-dashboard.json").read_text())
    return [t["expr"] for panel in doc["panels"] for t in panel["targets"]]


def test_dashboard_uses_only_exported_metrics() -> None:
    names = exported()
    exprs = dashboard_exprs()
    used = {m for expr in exprs for m in METRIC.findall(expr)}
    assert len(used) >= 10, used
    assert used <= names, sorted(used - names)


def test_prometheus_rules_use_only_exported_metrics() -> None:
    text = (CONTRIB / "prometheus" / "residency-rules.yml").read_text()
    used = set(METRIC.findall(text))
    assert used and used <= exported(), sorted(used - exported())
    assert "job_name: residency" in (CONTRIB / "prometheus" / "prometheus.yml").read_text()


def test_systemd_units_are_complete_and_documented() -> None:
    readme = (REPO / "docs" / "monitoring.md").read_text()
    units = sorted((CONTRIB / "systemd").iterdir())
    assert {u.name for u in units} >= {"residency-monitor.service", "residency-monitor.timer"}
    for unit in units:
        parser = configparser.ConfigParser(strict=True, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(unit.read_text())
        assert "Unit" in parser and parser["Unit"].get("Description")
        if unit.suffix == ".service":
            assert "residency monitor" in parser["Service"]["ExecStart"]
        else:
            assert parser["Timer"].get("OnUnitActiveSec") and parser["Install"]["WantedBy"]
        assert f"contrib/systemd/{unit.name}" in readme, unit.name
