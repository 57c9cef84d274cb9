"""``residency monitor`` assembled: store, targets, resolver, locator, alert sinks,
metrics and signal handling around one :class:`Monitor` run."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from residency.audit.assemble import Assembly, assemble
from residency.audit.run import AuditRequest
from residency.http import configured_client
from residency.monitor.alert_formats import webhook_sink
from residency.monitor.alerts import DEFAULT_DEADLINE, AlertSink, LogSink, WebhookSink
from residency.monitor.audit import AuditorAudit
from residency.monitor.base import MonitorError
from residency.monitor.loop import Monitor, MonitorStats, install_signal_handlers
from residency.monitor.metrics import open_metrics
from residency.monitor.targets import load_targets_file
from residency.store import Store, open_store
from residency.store.alerts import DEFAULT_LEASE

log = logging.getLogger("residency.monitor")


class NothingToMonitor(MonitorError):
    """The store holds no watch targets and no targets file was given."""


@dataclass(frozen=True)
class MonitorRequest:
    """What one ``residency monitor`` run was asked to do."""

    once: bool = False  # check what is due now, then return (the cron form)
    targets_file: Path | None = None  # watch exactly these targets
    db: str | None = None  # the history store (None: $RESIDENCY_DB or the default)
    # How each check is audited: the options object 'audit' takes (resolver, DoH/DoT,
    # RDAP, probes, data, control evidence). Its targets, policy, vantages and db are
    # not used: they come from the watch targets and the monitor's own store.
    audit: AuditRequest = field(default_factory=AuditRequest)
    batch_size: int = 1000
    lease_seconds: float = 600.0
    webhooks: tuple[str, ...] = ()
    slack_webhooks: tuple[str, ...] = ()
    webhook_format: str = "json"  # one of alert_formats.WEBHOOK_FORMATS
    metrics_listen: str | None = None  # ADDR:PORT for the Prometheus endpoint
    metrics_file: Path | None = None  # node_exporter textfile written at the end
    log_alerts: bool = True
    alert_backlog: bool = False
    spool: Path | None = None
    worker: str | None = None
    alert_lease: float = DEFAULT_LEASE  # a claimed alert's reservation (crash -> redelivery)
    alert_deadline: float = DEFAULT_DEADLINE  # one webhook exchange, whole


def run_monitor(request: MonitorRequest) -> MonitorStats:
    """Run the monitor as ``request`` says, until done (``once``) or SIGINT/SIGTERM.

    Everything that can be wrong with the configuration fails before any check: the
    metrics address or file first, then a read-only store, a bad targets file, or no
    targets at all (NothingToMonitor)."""
    if request.alert_deadline <= 0 or request.alert_lease < 2 * request.alert_deadline:
        # A claim must outlive the exchange it covers, or a second sender takes it over
        # while the first still waits for the answer (a duplicate).
        raise MonitorError(
            f"alert lease {request.alert_lease:g}s must be at least twice the webhook "
            f"deadline {request.alert_deadline:g}s"
        )
    metrics, stop_metrics = open_metrics(request.metrics_listen, request.metrics_file)
    try:
        store = open_store(request.db, create=True)
    except BaseException:
        stop_metrics()  # the metrics listener must not outlive a store that failed to open
        raise
    # The whole-exchange deadline binds; no single read may end the exchange before it.
    client = configured_client(timeout=request.alert_deadline)
    alert_store: Store | None = None
    parts: Assembly | None = None
    try:
        store.check_writable()
        if request.targets_file is not None:
            specs = load_targets_file(request.targets_file)
            kept, removed = store.sync_targets(
                str(request.targets_file.resolve()), specs, time.time()
            )
            log.info("targets from %s: %d watched, %d removed", request.targets_file, kept, removed)
        if store.target_count() == 0:
            raise NothingToMonitor(
                "nothing to monitor: add targets with 'residency watch add' or --targets FILE"
            )
        notes: list[str] = []
        # The RDAP and GLEIF caches live in the history store, shared by every worker.
        how = replace(
            request.audit,
            targets=(),
            policy_path=None,
            vantages=(),
            db=request.db if request.audit.rdap or request.audit.gleif else None,
        )
        parts = assemble(how, notes, None, check_resolver=False)
        for note in notes:
            log.warning("monitor: %s", note)
        if metrics is not None:
            metrics.set_data_versions(parts.locator.data_versions())
        sinks: list[AlertSink] = [LogSink()] if request.log_alerts else []
        if request.log_alerts or request.webhooks or request.slack_webhooks:
            # The sender has its own connection: it never waits for the checking path,
            # and its sinks read the store from its thread only.
            alert_store = open_store(request.db, create=True)
            sinks += [
                webhook_sink(u, client, request.webhook_format, alert_store, request.alert_deadline)
                for u in request.webhooks
            ]
            sinks += [
                WebhookSink(u, client, slack=True, deadline=request.alert_deadline)
                for u in request.slack_webhooks
            ]
        stop = threading.Event()
        restore = install_signal_handlers(stop)
        try:
            monitor = Monitor(
                store,
                AuditorAudit(parts),
                worker=request.worker,
                batch_size=request.batch_size,
                lease_seconds=request.lease_seconds,
                sinks=sinks,
                spool_dir=request.spool,
                stop=stop,
                alert_backlog=request.alert_backlog,
                observer=metrics,
                freeze_gc=True,
                alert_store=alert_store,
                alert_lease=request.alert_lease,
            )
            stats = monitor.run_once() if request.once else monitor.run_forever()
        finally:
            restore()
        if metrics is not None and request.metrics_file is not None:
            metrics.write_textfile(request.metrics_file)
        return stats
    finally:
        client.close()
        if parts is not None:
            parts.close()
        if alert_store is not None:
            alert_store.close()
        store.close()
        stop_metrics()
