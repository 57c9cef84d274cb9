"""Alertmanager webhook payloads: shape, firing and resolved, POSTed to a real local server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from residency.drift import DriftEvent, DriftKind
from residency.monitor.alert_formats import ZERO_TIME, AlertmanagerFormat, episode
from residency.monitor.alerts import WebhookSink
from residency.monitor.loop import Monitor
from residency.store import Store, TargetSpec, open_store
from tests.monitor.fakes import FakeAudit, FakeClock
from tests.store.builders import Addr, Host


def event(
    id: int, kind: DriftKind, before: str | None, after: str | None, ip: str | None = "192.0.2.1"
) -> DriftEvent:
    return DriftEvent(
        id, "a.example", "a.example", f"r{id}", f"2026-01-0{id}T00:00:00+00:00",
        kind, ip, before, after, f"{kind.value} {before} -> {after}",
    )  # fmt: skip


def test_address_appearing_then_disappearing_resolves() -> None:
    appeared = event(1, DriftKind.ADDRESS_APPEARED, None, "US")
    gone = event(2, DriftKind.ADDRESS_DISAPPEARED, "US", None)
    assert episode(appeared, []) == (appeared, False)
    assert episode(gone, [appeared]) == (appeared, True)


def test_country_going_back_resolves_and_a_new_move_fires_again() -> None:
    moved = event(1, DriftKind.COUNTRY_CHANGED, "DE", "US")
    further = event(2, DriftKind.COUNTRY_CHANGED, "US", "BR")
    back = event(3, DriftKind.COUNTRY_CHANGED, "BR", "DE")
    again = event(4, DriftKind.COUNTRY_CHANGED, "DE", "FR")
    history = [moved, further, back]
    assert episode(further, history) == (moved, False)  # still away from DE
    assert episode(back, history) == (moved, True)
    assert episode(again, [*history, again]) == (again, False)
    # Another aspect (another address) is its own episode.
    other = event(5, DriftKind.COUNTRY_CHANGED, "US", "DE", ip="192.0.2.2")
    assert episode(other, history) == (other, False)


def test_payload_shape() -> None:
    moved = event(1, DriftKind.VERDICT_CHANGED, "PASS", "FAIL", ip=None)
    back = event(2, DriftKind.VERDICT_CHANGED, "FAIL", "PASS", ip=None)
    body = AlertmanagerFormat(lambda e: [moved])([back])
    assert body["version"] == "4" and body["status"] == "resolved"
    assert {"receiver", "groupKey", "groupLabels", "commonLabels", "alerts"} <= set(body)
    (alert,) = body["alerts"]
    assert alert["status"] == "resolved"
    assert alert["startsAt"] == "2026-01-01T00:00:00Z"
    assert alert["endsAt"] == "2026-01-02T00:00:00Z"
    assert alert["labels"]["alertname"] == "ResidencyDrift"
    assert alert["labels"]["severity"] == "critical"
    firing = AlertmanagerFormat(lambda e: [])([moved])["alerts"][0]
    assert firing["status"] == "firing" and firing["endsAt"] == ZERO_TIME
    assert firing["fingerprint"] == alert["fingerprint"]  # the same alert, now resolved
    assert firing["labels"] == alert["labels"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]]
    statuses: list[int]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.bodies.append(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Handler", (_Receiver,), {"bodies": [], "statuses": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v2/alerts", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "h.sqlite3"))
    yield opened
    opened.close()


def test_monitor_posts_firing_then_resolved(
    store: Store, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    handler.statuses += [500]  # the first POST fails and is retried
    clock = FakeClock()
    audit = FakeAudit(clock)
    audit.world = {"a.example": Host("a.example", (Addr("192.0.2.1", "DE"),))}
    store.add_targets([TargetSpec("a.example", jitter=0, cadence=60)], clock.now)
    with httpx.Client(timeout=5) as client:
        sink = WebhookSink(
            url,
            client,
            sleep=lambda s: None,
            payload_format=AlertmanagerFormat.from_store(store),
            attempts=2,
        )
        monitor = Monitor(store, audit, clock=clock, sleep=clock.advance, sinks=[sink])
        monitor.run_once()  # first sight: no event
        audit.world["a.example"] = Host(
            "a.example", (Addr("192.0.2.1", "DE"), Addr("198.51.100.7", "US"))
        )
        clock.advance(61)
        monitor.run_once()  # an address appears: firing
        audit.world["a.example"] = Host("a.example", (Addr("192.0.2.1", "DE"),))
        clock.advance(61)
        monitor.run_once()  # it is gone again: resolved
    statuses = [(b["status"], [a["status"] for a in b["alerts"]]) for b in handler.bodies]
    assert statuses == [("firing", ["firing"]), ("resolved", ["resolved"])]
    fired, resolved = handler.bodies[0]["alerts"][0], handler.bodies[1]["alerts"][0]
    assert fired["labels"]["ip"] == "198.51.100.7"
    assert fired["fingerprint"] == resolved["fingerprint"]
    assert resolved["startsAt"] == fired["startsAt"] and resolved["endsAt"] != ZERO_TIME
    assert sink.channel.startswith("alertmanager:")
