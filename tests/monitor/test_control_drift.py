"""Control drift: a change of controller, ultimate parent, certificate organisation or
host operator is an event, over one generic list of fields (issue 19, item 6)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from residency import drift
from residency.drift import CONTROL_FIELDS, ControlField, DriftKind, compare, control_state
from residency.model import CertInfo, Confidence, Controller, Operator, OwnerLink, ProbeResult
from residency.store.serialize import endpoint_state
from tests.monitor.test_drift import addr, state
from tests.store.builders import Addr, Host, endpoint_result, iso_at


def with_control(**control: str | None) -> dict[str, Any]:
    return {**state(addr("192.0.2.1")), "control": control}


@pytest.mark.parametrize("control", CONTROL_FIELDS, ids=lambda c: c.name)
def test_each_control_field_change_is_its_own_event(control: ControlField) -> None:
    (change,) = compare(
        with_control(**{control.name: "Old Corp (US)"}),
        with_control(**{control.name: "New Corp (FR)"}),
        data_changed=False,
    )
    assert change.kind is control.kind
    assert (change.before, change.after) == ("Old Corp (US)", "New Corp (FR)")
    assert change.detail == f"{control.label} Old Corp (US) -> New Corp (FR)"


def test_a_field_observed_on_one_side_only_is_not_compared() -> None:
    # States recorded before control was tracked, or a check whose probes failed.
    assert compare(state(addr("192.0.2.1")), with_control(controller="A (DE)"), False) == []
    assert compare(with_control(cert_org="A (DE)"), with_control(), False) == []


def test_known_to_unknown_is_drift() -> None:
    (change,) = compare(with_control(controller="A (DE)"), with_control(controller=None), False)
    assert change.kind is DriftKind.CONTROLLER_CHANGED and change.detail.endswith("-> unknown")


def test_a_new_control_field_plugs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new field (e.g. a sanctions listing) needs one entry, no new code."""
    extra = ControlField(
        "sanctions", DriftKind.CONTROLLER_CHANGED, "sanctions list", lambda r: (True, "listed")
    )
    monkeypatch.setattr(drift, "CONTROL_FIELDS", (*CONTROL_FIELDS, extra))
    result = endpoint_result(Host("a.example", (Addr("192.0.2.1"),)), iso_at(0), "v1")
    assert control_state(result)["sanctions"] == "listed"
    (change,) = compare(with_control(sanctions="listed"), with_control(sanctions="gone"), False)
    assert change.detail == "sanctions list listed -> gone"


def test_state_carries_what_the_check_observed() -> None:
    base = endpoint_result(Host("a.example", (Addr("192.0.2.1"),)), iso_at(0), "v1")
    assert "control" not in endpoint_state(base)  # nothing observed: the state as before
    cert = CertInfo(subject_o="Acme GmbH", subject_c="DE", validation="ov")
    facts = tuple(
        replace(f, operator=Operator("aws", "Amazon Web Services, Inc.", "US")) for f in base.facts
    )
    observed = replace(
        base,
        facts=facts,
        probes=(ProbeResult("tls", "192.0.2.1", 443, "ok", cert=cert),),
        controller=Controller(
            "Acme GmbH",
            "DE",
            "OV certificate",
            Confidence.HIGH,
            parents=(
                OwnerLink("Acme Europe BV", "NL", "organisations.toml"),
                OwnerLink("Acme Holdings Inc", "US", "organisations.toml"),
            ),
        ),
    )
    assert endpoint_state(observed)["control"] == {
        "controller": "Acme GmbH (DE)",
        "ultimate_parent": "Acme Holdings Inc (US)",
        "cert_org": "Acme GmbH (DE)",
        "operator": "Amazon Web Services, Inc. (US)",
    }
    failed = replace(observed, probes=(ProbeResult("tls", "192.0.2.1", 443, "timeout"),))
    assert "cert_org" not in endpoint_state(failed)["control"]
