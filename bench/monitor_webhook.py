"""Checking while a webhook misbehaves: checks completed in a fixed window with a webhook
that answers, answers in 15 s, refuses connections or drips its status line, and
whether SIGTERM (the stop event) then ends the monitor. With ``--baseline DIR`` the same
run is made with the residency package found in DIR (e.g. ``git archive main``), side
by side.

    python bench/monitor_webhook.py [--seconds 20] [--baseline /tmp/residency-main]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if "--one" not in sys.argv:  # a measuring child takes residency from its PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODES = ("ok", "slow", "refused", "drip")


def measure(mode: str, seconds: float) -> dict[str, object]:
    import httpx

    from residency.monitor.alerts import WebhookSink
    from residency.monitor.loop import Monitor
    from residency.store import TargetSpec, open_store
    from tests.integration.webhook import Receiver, closed_port
    from tests.store.builders import Addr, Host, audit_result

    counter = itertools.count()
    checked = [0]

    def audit(batch):  # type: ignore[no-untyped-def]
        shift = next(counter)
        checked[0] += len(batch.endpoints)
        hosts = [
            Host(e.host, (Addr(f"192.0.2.{1 + (int(e.host[1:].split('.')[0]) + shift) % 250}"),))
            for e in batch.endpoints
        ]
        return audit_result(f"r{shift}-{time.time()}", time.time(), hosts)

    with (
        tempfile.TemporaryDirectory() as tmp,
        Receiver(
            "slow" if mode == "slow" else "drip" if mode == "drip" else "ok", delay=15.0
        ) as receiver,
    ):
        url = receiver.url if mode != "refused" else f"http://127.0.0.1:{closed_port()}/h"
        store = open_store(f"{tmp}/h.sqlite3")
        store.add_targets(
            [TargetSpec(f"h{i}.example", cadence=1, jitter=0) for i in range(20)], time.time()
        )
        try:
            from residency.http import configured_client

            client = configured_client(20.0)  # as the monitor: --alert-timeout 20s
        except ImportError:
            try:  # a tree before the webhook client moved into residency.http
                from residency.monitor.webhook_http import (  # type: ignore[import-not-found]
                    deadline_client,
                )

                client = deadline_client(20.0)
            except ImportError:  # the baseline has no deadline client
                client = httpx.Client(timeout=10.0)
        stop = threading.Event()
        monitor = Monitor(store, audit, sinks=[WebhookSink(url, client)], stop=stop, batch_size=5)
        thread = threading.Thread(
            target=monitor.run_forever, kwargs={"idle_poll": 0.2}, daemon=True
        )
        thread.start()
        time.sleep(seconds)
        done = checked[0]
        stop.set()
        began = time.monotonic()
        thread.join(30)
        ended = not thread.is_alive()
        posts = receiver.tally.posts
        events = receiver.tally.events
    import residency

    return {
        "from": str(Path(residency.__file__).parent),
        "mode": mode,
        "checks": done,
        "per_minute": round(done * 60 / seconds),
        "stopped": f"{time.monotonic() - began:.1f}s" if ended else "no (still running after 30 s)",
        "posts": posts,
        "max_posts_per_event": max(events.values(), default=0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--baseline", type=Path, help="a checkout of the baseline to compare")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.seconds)), flush=True)
        os._exit(0)  # a hung baseline sender thread must not keep the process alive
    here = Path(__file__).resolve().parent.parent
    sides = [("this tree", here)] + ([("baseline", args.baseline)] if args.baseline else [])
    print(f"20 targets due every second, fake audit, {args.seconds:g} s per webhook mode")
    for mode in MODES:
        for label, root in sides:
            env = {**os.environ, "PYTHONPATH": f"{root}:{here}"}
            out = subprocess.run(
                [sys.executable, __file__, "--one", mode, "--seconds", str(args.seconds)],
                env=env,
                capture_output=True,
                text=True,
                timeout=args.seconds + 120,
                cwd=root,
            )
            line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-300:]
            try:
                r = json.loads(line)
            except ValueError:
                print(f"  {mode:8} {label:10} failed: {line}")
                continue
            assert str(r["from"]).startswith(str(root)), r["from"]
            print(
                f"  {mode:8} {label:10} {r['checks']:6} checks ({r['per_minute']}/min), "
                f"stop: {r['stopped']}, {r['posts']} POSTs, "
                f"max {r['max_posts_per_event']} answered POST(s) per event"
            )


if __name__ == "__main__":
    main()
