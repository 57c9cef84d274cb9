"""The alert sender: a thread that delivers drift alerts off the checking path.

Checking never waits for a webhook. The monitor only ``wake()``s the sender after a
commit; the sender claims what each channel owes (a lease in the store), sends it with
a deadline over the whole exchange, and backs off per channel when a sink fails. A
stalled, dripping or refusing webhook slows only its own channel. Stopping (SIGTERM)
cancels the exchange in flight within a fraction of a second and gives its events
back, so the next sender delivers them at once.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

from residency.http import exchange_deadline
from residency.monitor.alerts import AlertSink, deliver_channel
from residency.monitor.schedule import backoff_delay
from residency.store import Store, StoreError
from residency.store.alerts import DEFAULT_LEASE

log = logging.getLogger("residency.alerts")

#: Seconds between two looks at the outbox when nothing wakes the sender (events that
#: other workers recorded, retries that fell due).
POLL = 5.0


class AlertSender:
    """Delivers what ``sinks`` owe from ``store`` in its own thread (``start``/``close``).

    ``lock`` guards ``store`` when the monitor shares it (one connection cannot hold
    two transactions); a store of its own needs none.
    """

    def __init__(
        self,
        store: Store,
        sinks: Sequence[AlertSink],
        *,
        clock: Callable[[], float],
        stop: threading.Event,
        worker: str,
        lease: float = DEFAULT_LEASE,
        lock: AbstractContextManager[object] | None = None,
        max_backoff: float = 300.0,
        chunk: int = 50,
        poll: float = POLL,
        rng: random.Random | None = None,
        on_sent: Callable[[dict[str, int]], None] | None = None,
    ) -> None:
        self.store = store
        self.sinks = tuple(sinks)
        self.clock = clock
        self.stop = stop
        self.owner = f"{worker}/alerts-{uuid.uuid4().hex[:8]}"
        self.lease = lease
        self._lock: AbstractContextManager[object] = lock or nullcontext()
        self.max_backoff = max_backoff
        self.chunk = chunk
        self.poll = poll
        self.rng = rng or random.Random()
        self.on_sent = on_sent
        self._wake = threading.Event()
        self._closing = False
        self._failures: dict[str, int] = {}
        self._next_try: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None and self.sinks:
            self._thread = threading.Thread(target=self._run, name="residency-alerts", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self, drain: bool) -> None:
        """End the thread: after one more pass over every channel when ``drain`` (the
        cron form delivers what it recorded), at once when stopping."""
        if self._thread is None:
            return
        self._closing = True
        if drain:
            self._next_try.clear()  # the last pass tries every channel
        self._wake.set()
        self._thread.join()
        self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait(self.poll)
            self._wake.clear()
            if self.stop.is_set():
                return
            closing = self._closing
            self.deliver_once()
            if closing or self.stop.is_set():
                return

    def deliver_once(self) -> dict[str, int]:
        """One pass over every channel whose backoff has passed."""
        sent: dict[str, int] = {}
        for sink in self.sinks:
            if self.stop.is_set():
                break
            channel = sink.channel
            now = self.clock()
            if self._next_try.get(channel, 0.0) > now:
                continue
            failures = self._failures.get(channel, 0)
            delay = backoff_delay(failures + 1, self.max_backoff, self.rng)
            try:
                # The whole chunk's exchange ends well inside the lease, so a claim is
                # never taken over while its sender still waits for the answer.
                with exchange_deadline(self.lease / 2, cancel=self.stop):
                    count, problem = deliver_channel(
                        self.store,
                        sink,
                        now,
                        chunk=self.chunk,
                        owner=self.owner,
                        lease=self.lease,
                        retry_at=now + delay,
                        stop=self.stop,
                        guard=self._lock,
                    )
            except StoreError as err:
                log.warning("alert channel %s: postponed: %s", channel, err)
                count, problem = 0, None
                self._next_try[channel] = now + delay
                self._failures[channel] = failures + 1
            if problem is not None and self.stop.is_set():
                log.info("alert channel %s: stopping; undelivered events stay queued", channel)
            elif problem is not None:
                self._failures[channel] = failures + 1
                self._next_try[channel] = now + delay
                log.warning("alert channel %s: %s (retry in %.0fs)", channel, problem, delay)
            elif count:
                self._failures.pop(channel, None)
                self._next_try.pop(channel, None)
            sent[channel] = count
        if self.on_sent is not None and sent:
            self.on_sent(sent)
        return sent
