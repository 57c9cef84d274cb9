"""Prometheus metrics of the monitor: served over HTTP or written as a textfile.

Naming follows the exporter rules: the ``residency_`` prefix, ``_total`` counters,
seconds as the unit, ``_info`` metrics for versions. Labels take values from small
closed sets only (outcomes, drift kinds, verdicts, policy names, dataset names): never
an address or a host name, so the number of series stays bounded whatever is watched.

The monitor reports to a ``MonitorMetrics`` through its observer hooks; everything the
hooks touch is guarded by a lock because the HTTP server scrapes from its own thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from residency import __version__
from residency.addresses import is_address
from residency.drift import DriftKind
from residency.errors import ResidencyError
from residency.model import AuditResult, DataVersion, Outcome, Verdict
from residency.monitor.metrics_http import serve_metrics
from residency.store import BatchOutcome, WatchTarget
from residency.timefmt import parse_iso

Clock = Callable[[], float]

#: Resolution outcomes that are a failure to get an answer (NXDOMAIN and NODATA are answers).
DNS_ERRORS = frozenset(
    {
        Outcome.SERVFAIL,
        Outcome.REFUSED,
        Outcome.TIMEOUT,
        Outcome.CNAME_LOOP,
        Outcome.CHAIN_TOO_LONG,
        Outcome.DELEGATED,
        Outcome.RESOLVER_UNREACHABLE,
        Outcome.ERROR,
    }
)

#: RDAP failure reasons are free text naming servers and networks; the label is one of these.
RDAP_REASONS = ("timeout", "rate-limited", "unreachable", "malformed", "other")

#: Batches take from milliseconds (a few cached names) to minutes (thousands of timeouts).
BATCH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

#: Verdict label values: the policy verdicts, and "unjudged" for a target without a policy.
UNJUDGED = "unjudged"


class MetricsError(ResidencyError):
    """The metrics endpoint or file cannot be used as given."""


def rdap_reason(reason: str) -> str | None:
    """The bounded label for an RDAP failure reason; None when it is not a failure
    (an address with no registration to look up, such as a private one)."""
    text = reason.lower()
    if not text or text.startswith("not a public address"):
        return None
    if "timed out" in text or "timeout" in text:
        return "timeout"
    if "rate" in text or "429" in text:
        return "rate-limited"
    if "unreachable" in text or "refused" in text or "connect" in text:
        return "unreachable"
    if "malformed" in text or "not valid" in text or "bad " in text or "invalid" in text:
        return "malformed"
    return "other"


def parse_listen(value: str) -> tuple[str, int]:
    """``ADDR:PORT`` (``[v6]:PORT``; ``:PORT`` is loopback, 127.0.0.1) -> (addr, port).
    Every address is ``0.0.0.0:PORT`` or ``[::]:PORT``, written out: metrics say which
    hosts are watched and how they drift, so they are not published by default."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit():
        raise MetricsError(f"--metrics {value!r}: expected ADDR:PORT, e.g. 127.0.0.1:9464")
    port = int(port_text)
    if not 0 < port < 65536:
        raise MetricsError(f"--metrics {value!r}: port {port} is not in 1..65535")
    host = host.strip("[]") or "127.0.0.1"
    if not is_address(host) and host != "localhost":
        raise MetricsError(f"--metrics {value!r}: {host!r} is not an IP address to listen on")
    return host, port


def _age(version: DataVersion, now: float) -> float | None:
    if not version.fetched:
        return None
    try:
        fetched = parse_iso(version.fetched)
    except ValueError:
        return None
    return max(0.0, now - fetched.timestamp())


@dataclass(frozen=True)
class _Schedule:
    targets: int
    due: int
    behind: float


class _StateCollector(Collector):
    """Gauges computed at scrape time from what the monitor last saw."""

    def __init__(self, owner: MonitorMetrics) -> None:
        self._owner = owner

    def collect(self) -> Iterable[Metric]:
        owner = self._owner
        with owner.lock:
            verdicts = dict(owner.verdicts)
            schedule = owner.schedule
            versions = dict(owner.versions)
        now = owner.clock()
        counts = GaugeMetricFamily(
            "residency_targets_by_verdict",
            "Watch targets by the verdict of their latest check and their policy.",
            labels=["verdict", "policy"],
        )
        tally: dict[tuple[str, str], int] = {}
        for key in verdicts.values():
            tally[key] = tally.get(key, 0) + 1
        for (verdict, policy), count in sorted(tally.items()):
            counts.add_metric([verdict, policy], count)
        yield counts
        targets = GaugeMetricFamily("residency_targets", "Watch targets in the store.")
        due = GaugeMetricFamily("residency_targets_due", "Watch targets due for a check now.")
        behind = GaugeMetricFamily(
            "residency_schedule_lag_seconds",
            "How far behind schedule the most overdue target is (0 when none is due).",
        )
        if schedule is not None:
            targets.add_metric([], schedule.targets)
            due.add_metric([], schedule.due)
            behind.add_metric([], schedule.behind)
        yield targets
        yield due
        yield behind
        age = GaugeMetricFamily(
            "residency_dataset_age_seconds",
            "Time since each dataset was fetched.",
            labels=["dataset"],
        )
        for name, version in sorted(versions.items()):
            seconds = _age(version, now)
            if seconds is not None:
                age.add_metric([name], seconds)
        yield age


class MonitorMetrics:
    """The monitor's metrics in their own registry (so tests and runs never mix)."""

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        data_versions: Sequence[DataVersion] = (),
        schedule_every: float = 15.0,
    ) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=True)
        # (host, vantage) -> (verdict, policy): kept in memory only, never a label.
        self.verdicts: dict[tuple[str, str], tuple[str, str]] = {}
        self.schedule: _Schedule | None = None
        self.versions: dict[str, DataVersion] = {v.dataset: v for v in data_versions}
        self._schedule_every = schedule_every
        self._schedule_at = float("-inf")
        self.checks = Counter(
            "residency_checks",
            "Target checks done, by outcome: unchanged, changed (a new state, also a first "
            "sight) or failed.",
            ["outcome"],
            registry=self.registry,
        )
        self.drift = Counter(
            "residency_drift_events",
            "Drift events recorded, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.dns_errors = Counter(
            "residency_dns_errors",
            "Resolutions that got no answer, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.rdap_errors = Counter(
            "residency_rdap_errors",
            "Addresses whose RDAP registration could not be established, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "residency_alerts_sent",
            "Drift events delivered to alert channels, by kind of channel.",
            ["channel"],
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "residency_batch_duration_seconds",
            "Time to check one claimed batch of targets.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.info = Info("residency", "The residency build.", registry=self.registry)
        self.info.info({"version": __version__})
        self.dataset_info = Info(
            "residency_dataset",
            "The version of each dataset in use.",
            ["dataset"],
            registry=self.registry,
        )
        # Every label value known up front is exported at 0, so rate() works from the start.
        for outcome in ("unchanged", "changed", "failed"):
            self.checks.labels(outcome)
        for kind in DriftKind:
            self.drift.labels(kind.value)
        for dns in sorted(DNS_ERRORS):
            self.dns_errors.labels(dns.value)
        for reason in RDAP_REASONS:
            self.rdap_errors.labels(reason)
        self._publish_versions()
        self.registry.register(_StateCollector(self))

    # ------------------------------------------------------------------ observer hooks

    def batch_checked(
        self,
        targets: Sequence[WatchTarget],
        results: Sequence[AuditResult],
        failed: int,
        seconds: float,
    ) -> None:
        """A batch was checked (not yet committed)."""
        self.batch_seconds.observe(seconds)
        if failed:
            self.checks.labels("failed").inc(failed)
        versions_changed = False
        with self.lock:
            for result in results:
                policy = result.policy.name if result.policy else ""
                for version in result.data_versions:
                    if self.versions.get(version.dataset) != version:
                        self.versions[version.dataset] = version
                        versions_changed = True
                for endpoint in result.endpoints:
                    key = (endpoint.endpoint.host, ",".join(v for v in result.vantages if v))
                    verdict = Verdict(endpoint.verdict.verdict).name if endpoint.verdict else None
                    self.verdicts[key] = (verdict or UNJUDGED, policy if verdict else "")
                    for resolution in endpoint.resolutions:
                        if resolution.outcome in DNS_ERRORS:
                            self.dns_errors.labels(resolution.outcome.value).inc()
                    for facts in endpoint.facts:
                        reg = facts.registration
                        if reg is not None and reg.status == "unknown":
                            label = rdap_reason(reg.reason)
                            if label is not None:
                                self.rdap_errors.labels(label).inc()
        if versions_changed:
            self._publish_versions()

    def batch_committed(self, outcome: BatchOutcome) -> None:
        """A batch is stored: count what changed (replayed runs were counted before)."""
        for record in outcome.recorded:
            if not record.inserted:
                continue
            self.checks.labels("changed").inc(record.changed)
            self.checks.labels("unchanged").inc(max(0, record.checked - record.changed))
            for change in record.events:
                self.drift.labels(change.kind.value).inc()

    def alerts_sent(self, sent: dict[str, int]) -> None:
        for channel, count in sent.items():
            # Channel names end in a hash of the URL: keep only the kind (log, webhook...).
            self.alerts.labels(channel.split(":", 1)[0]).inc(count)

    def targets_seen(self, targets: Sequence[WatchTarget], force: bool = False) -> bool:
        """Refresh the schedule gauges from the full target list. Returns False when the
        last refresh is too recent to bother the store again (``wants_schedule``)."""
        now = self.clock()
        due = [t.next_due for t in targets if t.next_due <= now]
        present = {(t.host, t.vantage or "") for t in targets}
        with self.lock:
            # A target no longer watched no longer counts in the verdict gauge.
            for key in [k for k in self.verdicts if k not in present]:
                del self.verdicts[key]
            self.schedule = _Schedule(
                targets=len(targets),
                due=len(due),
                behind=max(0.0, now - min(due)) if due else 0.0,
            )
            self._schedule_at = now
        return True

    def set_data_versions(self, versions: Sequence[DataVersion]) -> None:
        """The datasets loaded at start, before any batch names them."""
        with self.lock:
            self.versions.update({v.dataset: v for v in versions})
        self._publish_versions()

    def wants_schedule(self) -> bool:
        return self.clock() - self._schedule_at >= self._schedule_every

    # ------------------------------------------------------------------ output

    def _publish_versions(self) -> None:
        with self.lock:
            versions = list(self.versions.values())
        for version in versions:
            self.dataset_info.labels(version.dataset).info({"version": version.version})

    def serve(self, addr: str, port: int) -> Callable[[], None]:
        """Serve /metrics on addr:port from a daemon thread; returns a stop function.
        A port that cannot be bound is a ``MetricsError`` naming it."""
        try:
            _, stop = serve_metrics(addr, port, self.registry)
        except OSError as err:
            raise MetricsError(
                f"--metrics {addr}:{port}: cannot listen there ({err.strerror or err})"
            ) from err
        return stop

    def write_textfile(self, path: Path) -> None:
        """The node_exporter textfile form, replaced atomically (tmp file + rename)."""
        try:
            write_to_textfile(str(path), self.registry)
        except OSError as err:
            raise MetricsError(
                f"--metrics-file {path}: cannot write ({err.strerror or err})"
            ) from err


def check_textfile(path: Path) -> None:
    """Fail before any work when the metrics file could not be written later."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise MetricsError(f"--metrics-file {path}: folder {folder} does not exist")
    if path.is_dir():
        raise MetricsError(f"--metrics-file {path}: is a folder")
    if not os.access(folder, os.W_OK):
        raise MetricsError(f"--metrics-file {path}: folder {folder} is not writable")


def open_metrics(
    listen: str | None, path: Path | None
) -> tuple[MonitorMetrics | None, Callable[[], None]]:
    """The monitor's metrics (None when neither ``--metrics ADDR:PORT`` nor
    ``--metrics-file`` is asked for) and the function that stops their HTTP server.
    A bad address, a port in use or an unwritable file path fails here, before any work."""
    if listen is None and path is None:
        return None, lambda: None
    metrics = MonitorMetrics()
    if path is not None:
        check_textfile(path)
    if listen is None:
        return metrics, lambda: None
    return metrics, metrics.serve(*parse_listen(listen))
