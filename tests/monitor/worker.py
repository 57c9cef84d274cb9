"""A monitor worker process for the crash and concurrency tests.

    python -m tests.monitor.worker DB_URL --now T --worker NAME --log FILE [--delay S]
        [--webhook URL] [--flip] [--forever]

Runs ``Monitor.run_once`` at the simulated time ``T`` with a fake audit that appends
every host it checks to ``FILE`` (one line each, flushed) and takes ``S`` seconds per
batch, so a test can kill it in the middle of its work. ``--flip`` gives every host a new
address at each new ``T`` (so every check after the first is drift); ``--webhook`` sends
the drift alerts to a JSON webhook. ``--forever`` runs ``run_forever`` on the real clock
until SIGTERM, every check giving every host a new address (the webhook tests).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from pathlib import Path

import httpx

from residency.http import configured_client
from residency.model import AuditResult
from residency.monitor.alerts import WebhookSink
from residency.monitor.base import Batch
from residency.monitor.loop import Monitor, install_signal_handlers
from residency.store import open_store
from tests.store.builders import Addr, Host, audit_result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--now", type=float, required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--lease", type=float, default=60.0)
    parser.add_argument("--barrier", help="DIR:N - start once N workers are ready in DIR")
    parser.add_argument("--webhook", help="POST drift alerts to this URL")
    parser.add_argument("--flip", action="store_true", help="a new address at each --now")
    parser.add_argument("--forever", action="store_true", help="real clock, until SIGTERM")
    parser.add_argument("--alert-deadline", type=float, default=20.0)
    args = parser.parse_args()
    counter = iter(range(10**9))

    def audit(batch: Batch) -> AuditResult:
        if args.delay:
            time.sleep(args.delay)  # stands for resolver work, so the kill lands mid-run
        with open(args.log, "a") as log:
            for endpoint in batch.endpoints:
                log.write(endpoint.host + "\n")
            log.flush()
            os.fsync(log.fileno())
        shift = int(args.now // 60) if args.flip else 0
        if args.forever:
            shift = next(counter)
        hosts = [
            Host(e.host, (Addr(f"192.0.2.{1 + (int(e.host.split('.')[0][1:]) + shift) % 250}"),))
            for e in batch.endpoints
        ]
        if args.forever:
            return audit_result(f"{args.worker}-{uuid.uuid4().hex}", time.time(), hosts)
        return audit_result(f"{args.worker}-{next(counter)}-{args.now}", args.now, hosts)

    store = open_store(args.db)
    client = configured_client(args.alert_deadline) if args.forever else httpx.Client(timeout=10.0)
    sinks = (
        [WebhookSink(args.webhook, client, deadline=args.alert_deadline)] if args.webhook else []
    )
    if args.barrier:
        folder, count = args.barrier.rsplit(":", 1)
        Path(folder, args.worker).touch()
        while len(list(Path(folder).iterdir())) < int(count):
            time.sleep(0.01)  # real time: only lines the workers up, simulates nothing
    if args.forever:
        alert_store = open_store(args.db)
        stop = threading.Event()
        install_signal_handlers(stop)
        try:
            forever = Monitor(
                store,
                audit,
                worker=args.worker,
                batch_size=args.batch_size,
                lease_seconds=args.lease,
                sinks=sinks,
                stop=stop,
                alert_store=alert_store,
                alert_lease=max(60.0, 3 * args.alert_deadline),
            )
            stats = forever.run_forever(idle_poll=0.2)
            print(f"{args.worker}: {stats.line()}", flush=True)
        finally:
            client.close()
            alert_store.close()
            store.close()
        return
    try:
        monitor = Monitor(
            store,
            audit,
            clock=lambda: args.now,
            worker=args.worker,
            batch_size=args.batch_size,
            lease_seconds=args.lease,
            sinks=sinks,
        )
        stats = monitor.run_once()
        print(f"{args.worker}: {stats.line()}", flush=True)
    finally:
        client.close()
        store.close()


if __name__ == "__main__":
    main()
