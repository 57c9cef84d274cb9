"""Webhook alerts: JSON and Slack payloads, retries with backoff, once per event."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from residency.drift import DriftEvent, DriftKind
from residency.monitor.alerts import AlertError, LogSink, WebhookSink, deliver_pending
from residency.store import open_store
from tests.store.builders import Addr, Host, audit_result

EVENT = DriftEvent(
    id=1,
    host="a.example",
    endpoint="a.example",
    run_id="r2",
    at="2026-01-01T00:00:00Z",
    kind=DriftKind.COUNTRY_CHANGED,
    ip="192.0.2.1",
    before="DE",
    after="US",
    detail="address 192.0.2.1 country DE -> US",
)


def recording_client(statuses: list[int], seen: list[dict[str, object]]) -> httpx.Client:
    answers = iter(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(next(answers))

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_json_payload_retried_after_server_error() -> None:
    seen: list[dict[str, object]] = []
    sleeps: list[float] = []
    sink = WebhookSink(
        "https://hooks.example/T0/secret",
        recording_client([503, 429, 200], seen),
        sleep=sleeps.append,
        attempts=3,
    )
    sink.send([EVENT])
    assert sleeps == [0.5, 1.0] and len(seen) == 3
    assert seen[0]["source"] == "residency"
    (event,) = seen[0]["events"]  # type: ignore[misc]
    assert event["kind"] == "country-changed" and event["after"] == "US"
    assert "secret" not in sink.channel


def test_slack_payload_is_text() -> None:
    seen: list[dict[str, object]] = []
    WebhookSink("https://hooks.example/x", recording_client([200], seen), slack=True).send([EVENT])
    # Slack's escaping: "&", "<" and ">" are written &amp; &lt; &gt;, so no text is a link
    assert set(seen[0]) == {"text"} and "country DE -&gt; US" in str(seen[0]["text"])


def test_one_post_per_send_by_default() -> None:
    seen: list[dict[str, object]] = []
    sink = WebhookSink("https://hooks.example/T0/secret", recording_client([503], seen))
    with pytest.raises(AlertError):
        sink.send([EVENT])
    assert len(seen) == 1  # the sender retries later, with backoff, from the outbox


def test_client_error_is_not_retried_and_names_host_only() -> None:
    seen: list[dict[str, object]] = []
    sink = WebhookSink(
        "https://hooks.example/T0/secret", recording_client([404], seen), sleep=print, attempts=3
    )
    with pytest.raises(AlertError) as err:
        sink.send([EVENT])
    assert len(seen) == 1 and "HTTP 404" in str(err.value) and "secret" not in str(err.value)


def test_transport_errors_give_up_after_attempts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    sleeps: list[float] = []
    with pytest.raises(AlertError):
        WebhookSink("http://127.0.0.1:9/x", client, attempts=3, sleep=sleeps.append).send([EVENT])
    assert sleeps == [0.5, 1.0]


def test_bad_webhook_url() -> None:
    with pytest.raises(AlertError):
        WebhookSink("ftp://x/y", httpx.Client())


def test_deliver_pending_once_and_retries_failed_channel(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "h.sqlite3"))
    store.record(audit_result("r1", 1000, [Host("a.example", (Addr("192.0.2.1"),))]))
    store.record(audit_result("r2", 2000, [Host("a.example", (Addr("192.0.2.2"),))]))
    seen: list[dict[str, object]] = []
    failing = WebhookSink("https://h.example/a", recording_client([500] * 4, seen), sleep=float)
    assert deliver_pending(store, [failing], now=3000) == {failing.channel: 0}
    good = WebhookSink("https://h.example/a", recording_client([200], seen), sleep=float)
    assert deliver_pending(store, [good], now=3001) == {good.channel: 2}
    assert deliver_pending(store, [good], now=3002) == {good.channel: 0}
    store.close()


def test_log_sink(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="residency.alerts"):
        LogSink().send([EVENT])
    assert "country DE -> US" in caplog.text
