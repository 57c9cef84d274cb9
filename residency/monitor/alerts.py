"""Alerts for drift events: to the log and to webhooks (plain JSON or Slack-style text).

Each sink has a stable ``channel`` name; the store keeps, per channel, an outbox of the
events it still owes, so an event is delivered at least once and, unless a sender dies
between the answer and its bookkeeping, once. Sending happens off the checking path
(``monitor.sender``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

import httpx

from residency.drift import DriftEvent
from residency.errors import ResidencyError
from residency.http import exchange_deadline
from residency.store import Store
from residency.store.alerts import DEFAULT_LEASE
from residency.textsafe import slack as slack_text
from residency.textsafe import terminal

log = logging.getLogger("residency.alerts")

#: Seconds a webhook exchange may take, whole (connect, body, status line, headers).
DEFAULT_DEADLINE = 20.0


class AlertError(ResidencyError):
    """An alert could not be delivered (after retries)."""


class AlertSink(ABC):
    """Somewhere drift events go."""

    #: Stable name for "already sent" bookkeeping; must not contain secrets.
    channel: str

    @abstractmethod
    def send(self, events: Sequence[DriftEvent]) -> None:
        """Deliver every event or raise ``AlertError``."""


class LogSink(AlertSink):
    """One WARNING line per event on the ``residency.alerts`` logger."""

    channel = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log

    def send(self, events: Sequence[DriftEvent]) -> None:
        for event in events:
            self._log.warning("drift %s: %s", event.kind.value, terminal(event.line()))


def event_json(event: DriftEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "host": event.host,
        "endpoint": event.endpoint,
        "run_id": event.run_id,
        "at": event.at,
        "kind": event.kind.value,
        "ip": event.ip,
        "before": event.before,
        "after": event.after,
        "detail": event.detail,
    }


class PayloadFormat(Protocol):
    """Another body shape for a webhook (e.g. ``alert_formats.AlertmanagerFormat``)."""

    #: Prefix of the channel name: a new format on the same URL is a new channel.
    name: str

    def __call__(self, events: Sequence[DriftEvent]) -> dict[str, Any]: ...


def _redact(url: str) -> str:
    """Webhook URLs carry their secret in the path: show scheme and host only."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}/…"


class WebhookSink(AlertSink):
    """POST JSON to a URL: ``{"source", "events": [...]}`` or, for Slack-compatible
    receivers, ``{"text": "..."}``. One POST per ``send`` by default: the sender retries
    later with backoff (``attempts`` > 1 retries transport errors, 429 and 5xx here;
    other 4xx answers fail at once, retrying cannot help). Each exchange ends within
    ``deadline`` seconds when the client is a ``residency.http.configured_client``."""

    def __init__(
        self,
        url: str,
        client: httpx.Client,
        *,
        slack: bool = False,
        attempts: int = 1,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        payload_format: PayloadFormat | None = None,
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as err:
            raise AlertError(f"webhook URL {url!r} is not valid: {err}") from err
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            raise AlertError(f"webhook URL {url!r} must be http(s)://host/...")
        self.url = url
        self.slack = slack
        self.payload_format = payload_format
        prefix = payload_format.name if payload_format else "slack" if slack else "webhook"
        self.channel = f"{prefix}:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self._client = client
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._sleep = sleep
        self.deadline = deadline

    def payload(self, events: Sequence[DriftEvent]) -> dict[str, Any]:
        if self.payload_format is not None:
            return self.payload_format(events)
        if self.slack:
            lines = [f"residency: {len(events)} drift event(s)"]
            lines += [f"• {slack_text(e.line())}" for e in events]  # names are not markup
            return {"text": "\n".join(lines)}
        return {"source": "residency", "events": [event_json(e) for e in events]}

    def send(self, events: Sequence[DriftEvent]) -> None:
        if not events:
            return
        body = self.payload(events)
        where = _redact(self.url)
        problem = ""
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            try:
                with exchange_deadline(self.deadline):
                    response = self._client.post(self.url, json=body)
            except httpx.HTTPError as err:
                problem = f"{type(err).__name__}: {err}"
                continue
            if response.status_code < 300:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                break
        raise AlertError(f"webhook {where}: {len(events)} event(s) not delivered ({problem})")


def deliver_channel(
    store: Store,
    sink: AlertSink,
    now: float,
    *,
    chunk: int = 50,
    owner: str = "",
    lease: float = DEFAULT_LEASE,
    retry_at: float | None = None,
    stop: threading.Event | None = None,
    guard: AbstractContextManager[object] | None = None,
) -> tuple[int, str | None]:
    """Send what ``sink`` owes, in chunks; returns (events delivered, problem or None).

    Events are claimed for ``lease`` seconds before sending (so workers sharing a
    database never send one at the same time) and given back when the sink fails, due at
    ``retry_at`` (at once if ``stop`` is set: the exchange was cancelled, not refused);
    then the channel stops for this call. ``guard`` is held around each store call,
    never around a send.
    """
    guard = guard or nullcontext()
    count = 0
    while stop is None or not stop.is_set():
        with guard:
            events = store.claim_alerts(sink.channel, now, limit=chunk, lease=lease, owner=owner)
        if not events:
            break
        ids = [e.id for e in events]
        try:
            sink.send(events)
        except AlertError as err:
            stopping = stop is not None and stop.is_set()
            with guard:
                store.finish_alerts(
                    sink.channel,
                    ids,
                    now,
                    delivered=False,
                    owner=owner,
                    retry_at=now if stopping else retry_at,
                )
            return count, str(err)
        with guard:
            store.finish_alerts(sink.channel, ids, now, delivered=True, owner=owner)
        count += len(events)
        if len(events) < chunk:
            break
    return count, None


def deliver_pending(
    store: Store, sinks: Sequence[AlertSink], now: float, chunk: int = 50
) -> dict[str, int]:
    """Send every event each sink owes; returns counts sent per channel. A failing sink
    is logged and retried at the next call; the others go on."""
    sent: dict[str, int] = {}
    for sink in sinks:
        count, problem = deliver_channel(store, sink, now, chunk=chunk)
        if problem is not None:
            log.warning("alert channel %s: %s (will retry)", sink.channel, problem)
        sent[sink.channel] = count
    return sent
