"""Drift events in the Alertmanager webhook shape (``version: "4"``).

The store records changes, not alerts, and has no "resolved" event. Resolution is
therefore defined from the events themselves: each event moves one *aspect* of an
endpoint (an address's presence, an address's country, provider, region, ASN or place,
the CNAME chain, the resolution outcome, the verdict) from a ``before`` to an
``after`` value. The first event that moves an aspect away opens an episode (firing);
the event that brings the aspect back to the value it had before the episode closes it
(resolved): an address that appeared and disappeared again, a country that went back,
a verdict that returned to what it was. An address appearing and disappearing are one
aspect (its presence), so the one resolves the other.

Alert labels carry the endpoint and the address: Alertmanager groups and silences by
them, and this is a webhook body, not a metric, so they cost no series.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from residency.drift import DriftEvent, DriftKind
from residency.monitor.alerts import DEFAULT_DEADLINE, WebhookSink
from residency.store import Store
from residency.timefmt import parse_iso, utc_iso

#: Alertmanager's zero time: "no end known" for a firing alert.
ZERO_TIME = "0001-01-01T00:00:00Z"
ALERT_NAME = "ResidencyDrift"
RECEIVER = "residency"

#: Kinds that are two directions of one aspect.
_ASPECT = {
    DriftKind.ADDRESS_APPEARED: "address",
    DriftKind.ADDRESS_DISAPPEARED: "address",
}

#: Verdict and resolution changes matter more than an address moving within policy.
_SEVERITY = {
    DriftKind.VERDICT_CHANGED: "critical",
    DriftKind.COUNTRY_CHANGED: "warning",
    DriftKind.OUTCOME_CHANGED: "warning",
    # Who controls it matters as much as where it is.
    DriftKind.CONTROLLER_CHANGED: "warning",
    DriftKind.PARENT_CHANGED: "warning",
    DriftKind.CERT_ORG_CHANGED: "warning",
    DriftKind.OPERATOR_CHANGED: "warning",
    DriftKind.DPF_CHANGED: "warning",
}

PriorEvents = Callable[[DriftEvent], Sequence[DriftEvent]]


def aspect(event: DriftEvent) -> tuple[str, str, str]:
    """What an event moves: (endpoint, aspect name, address or "")."""
    return (event.endpoint, _ASPECT.get(event.kind, event.kind.value), event.ip or "")


def episode(event: DriftEvent, earlier: Sequence[DriftEvent]) -> tuple[DriftEvent, bool]:
    """The event that opened ``event``'s episode, and whether ``event`` closes it.

    ``earlier`` may hold any events; those of other aspects or later ids are ignored.
    """
    key = aspect(event)
    unique = {e.id: e for e in earlier if e.id < event.id and aspect(e) == key}
    chain = [unique[i] for i in sorted(unique)]
    opened: DriftEvent | None = None
    for item in [*chain, event]:
        if opened is None:
            opened = item
        if item.after == opened.before:
            if item is event:
                return opened, True
            opened = None
    assert opened is not None  # the loop ends on ``event``, which opens one if none is open
    return opened, False


def fingerprint(labels: dict[str, str]) -> str:
    """A stable id of the label set (Alertmanager's own is a hash of the labels too)."""
    text = "\x00".join(f"{k}\x00{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _labels(event: DriftEvent) -> dict[str, str]:
    endpoint, name, ip = aspect(event)
    labels = {
        "alertname": ALERT_NAME,
        "endpoint": endpoint,
        "host": event.host,
        "aspect": name,
        "severity": _SEVERITY.get(event.kind, "info"),
    }
    if ip:
        labels["ip"] = ip
    return labels


def _zulu(at: str) -> str:
    try:
        return utc_iso(parse_iso(at))  # rows written before timefmt carry an offset
    except ValueError:
        return at


def alert(event: DriftEvent, earlier: Sequence[DriftEvent]) -> dict[str, Any]:
    """One Alertmanager alert for ``event``: firing, or resolved if it closes its episode."""
    opened, resolved = episode(event, earlier)
    labels = _labels(opened)
    annotations = {
        "summary": f"{event.host}: {event.detail}",
        "kind": event.kind.value,
        "before": event.before or "",
        "after": event.after or "",
        "run_id": event.run_id,
        "event_id": str(event.id),
    }
    if resolved:
        annotations["resolves"] = f"{opened.at} {opened.detail}"
    return {
        "status": "resolved" if resolved else "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": _zulu(opened.at),
        "endsAt": _zulu(event.at) if resolved else ZERO_TIME,
        "generatorURL": "",
        "fingerprint": fingerprint(labels),
    }


def _common(maps: Sequence[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


class AlertmanagerFormat:
    """``WebhookSink`` body in the Alertmanager webhook shape.

    ``prior`` gives the stored events before one event (to find its episode); with
    ``from_store`` they are the endpoint's recorded drift events.
    """

    name = "alertmanager"

    def __init__(self, prior: PriorEvents, receiver: str = RECEIVER) -> None:
        self._prior = prior
        self.receiver = receiver

    @classmethod
    def from_store(cls, store: Store) -> AlertmanagerFormat:
        def prior(event: DriftEvent) -> Sequence[DriftEvent]:
            return [e for e in store.history(event.host).events if e.endpoint == event.endpoint]

        return cls(prior)

    def __call__(self, events: Sequence[DriftEvent]) -> dict[str, Any]:
        earlier: dict[tuple[str, str], Sequence[DriftEvent]] = {}
        alerts = []
        for event in events:
            where = (event.host, event.endpoint)
            if where not in earlier:
                earlier[where] = self._prior(event)
            # Events of the same chunk count too (they are stored, but be explicit).
            alerts.append(alert(event, [*earlier[where], *events]))
        group_labels = {"alertname": ALERT_NAME}
        firing = any(a["status"] == "firing" for a in alerts)
        return {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{ALERT_NAME}"}}',
            "truncatedAlerts": 0,
            "status": "firing" if firing else "resolved",
            "receiver": self.receiver,
            "groupLabels": group_labels,
            "commonLabels": _common([a["labels"] for a in alerts]),
            "commonAnnotations": _common([a["annotations"] for a in alerts]),
            "externalURL": "",
            "alerts": alerts,
        }


#: The bodies a ``--webhook`` POST can have: residency JSON, Slack text, Alertmanager's.
WEBHOOK_FORMATS = ("json", "slack", "alertmanager")


def webhook_sink(
    url: str, client: httpx.Client, form: str, store: Store, deadline: float = DEFAULT_DEADLINE
) -> WebhookSink:
    """The sink for one ``--webhook URL`` posting bodies of ``form`` (a WEBHOOK_FORMATS
    value); Alertmanager bodies carry each endpoint's earlier events from ``store`` (the
    sender's store: it is read from the sender's thread)."""
    if form == "alertmanager":
        return WebhookSink(
            url, client, payload_format=AlertmanagerFormat.from_store(store), deadline=deadline
        )
    return WebhookSink(url, client, slack=form == "slack", deadline=deadline)
