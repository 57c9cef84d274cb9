"""Control drift to and from "unknown", and the EU-US DPF status (issue 19): a field going
from known to unknown (or back) is drift with its reason when the evidence behind the
known side ran in both checks; a check that did not run it (--probe off, a failed
handshake) raises nothing, so flapping configuration does not alert."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from residency.drift import TABLES, Change, DriftKind, compare, control_record
from residency.model import (
    AuditResult,
    CertInfo,
    Confidence,
    Controller,
    DataVersion,
    EndpointResult,
    Operator,
    OwnerLink,
    ProbeResult,
)
from residency.monitor.alert_formats import _SEVERITY
from residency.store import open_store
from residency.store.serialize import endpoint_state
from tests.store.builders import Addr, Host, audit_result, endpoint_result, iso_at

HOST = "api.acme.example"
RAN = (TABLES,)  # a run that tracked control (its data versions hold the control tables)
OV = CertInfo(subject_o="Acme GmbH", subject_c="DE", validation="ov")
DV = CertInfo(validation="dv")


def result(
    controller: Controller | None = None, cert: CertInfo | None = None, probe: str = ""
) -> EndpointResult:
    base = endpoint_result(Host(HOST, (Addr("192.0.2.1"),)), iso_at(0), "v1")
    probes = ()
    if probe:
        probes = (ProbeResult("tls", "192.0.2.1", 443, probe, cert=cert, verified=True),)
    return replace(base, controller=controller, probes=probes)


def by_certificate(entity: str = "Acme GmbH") -> Controller:
    return Controller(entity, "DE", "OV certificate", Confidence.MEDIUM, "issuer Test CA")


def by_tables(entity: str = "Acme GmbH", dpf: str = "") -> Controller:
    return Controller(
        entity,
        "DE",
        "entity-list disconnect 2026-08-07",
        Confidence.LOW,
        "acme.example listed",
        parents=(OwnerLink("Acme Holdings Inc", "US", "organisations.toml"),),
        dpf=dpf,
    )


def nobody(why: str) -> Controller:
    return Controller(None, None, "none", Confidence.NONE, why)


def changes(before: EndpointResult, after: EndpointResult, data_changed: bool = False) -> list:
    return compare(endpoint_state(before, RAN), endpoint_state(after, RAN), data_changed)


def of_kind(found: list[Change], kind: DriftKind) -> list[Change]:
    return [c for c in found if c.kind is kind]


def test_certificate_turning_dv_is_controller_no_longer_known_with_the_reason() -> None:
    before = result(by_certificate(), OV, "ok")
    after = result(nobody("DV certificate: names no organisation"), DV, "ok")
    (change,) = of_kind(changes(before, after), DriftKind.CONTROLLER_CHANGED)
    assert (change.before, change.after) == ("Acme GmbH (DE)", None)
    assert change.detail == (
        "controller no longer known (was Acme GmbH (DE)): DV certificate: names no organisation"
    )
    # and back: the certificate names the organisation again
    (back,) = of_kind(changes(after, before), DriftKind.CONTROLLER_CHANGED)
    assert (back.before, back.after) == (None, "Acme GmbH (DE)")
    assert back.detail.startswith("controller now known: Acme GmbH (DE) (was unknown: DV")


def test_evidence_that_did_not_run_raises_nothing() -> None:
    """--probe tls in one pass, not in the next (and back): the controller the certificate
    named is neither lost nor found, whatever the tables say meanwhile."""
    probed = result(by_certificate(), OV, "ok")
    unprobed = result(None)  # no probe; the tables list nothing
    assert changes(probed, unprobed) == []
    assert changes(unprobed, probed) == []
    # a handshake that failed read no certificate: not "no organisation" either
    failed = result(nobody("no evidence"), probe="timeout")
    assert changes(probed, failed) == []
    assert changes(failed, probed) == []


def test_the_tables_losing_a_domain_is_drift_after_a_data_update() -> None:
    listed, unlisted = result(by_tables()), result(None)
    found = changes(listed, unlisted, data_changed=True)
    (controller,) = of_kind(found, DriftKind.CONTROLLER_CHANGED)
    assert controller.after is None
    assert controller.detail == (
        "controller no longer known (was Acme GmbH (DE)): no table in use lists it and no "
        "other evidence names it (after a data update)"
    )
    # the parent goes with the controller: not a second event
    assert of_kind(found, DriftKind.PARENT_CHANGED) == []
    (again,) = of_kind(changes(unlisted, listed, True), DriftKind.CONTROLLER_CHANGED)
    assert again.after == "Acme GmbH (DE)" and "now known" in again.detail


def test_a_chain_cut_short_is_the_ultimate_parent_no_longer_known() -> None:
    whole = result(by_tables())
    cut = result(replace(by_tables(), parents=(), parent_unknown="parent unknown: no table"))
    (change,) = changes(whole, cut)
    assert change.kind is DriftKind.PARENT_CHANGED
    assert change.detail == (
        "ultimate parent no longer known (was Acme Holdings Inc (US)): parent unknown: no table"
    )


def test_leaving_the_dpf_list_is_drift_and_alerts_like_a_controller_change() -> None:
    listed = result(by_tables("Google LLC", dpf="listed (dpf-participants 2026-06-01: Google)"))
    gone = result(by_tables("Google LLC", dpf="not listed (dpf-participants 2026-07-01)"))
    (change,) = changes(listed, gone, data_changed=True)
    assert change.kind is DriftKind.DPF_CHANGED
    assert (change.before, change.after) == ("listed", "not listed")
    assert change.detail == (
        "EU-US Data Privacy Framework status of Google LLC (DE): listed -> not listed"
        " (after a data update)"
    )
    assert _SEVERITY[DriftKind.DPF_CHANGED] == _SEVERITY[DriftKind.CONTROLLER_CHANGED]
    # a new list version that still lists it is no change of state at all
    relisted = result(by_tables("Google LLC", dpf="listed (dpf-participants 2026-07-01: Google)"))
    assert endpoint_state(listed, RAN) == endpoint_state(relisted, RAN)
    # no list in one check: not observed there, nothing compared
    assert changes(listed, result(by_tables("Google LLC"))) == []


def test_operator_no_longer_known_is_drift_but_no_address_is_not() -> None:
    base = result(by_tables())
    operated = replace(
        base,
        facts=tuple(replace(f, operator=Operator("aws", "Amazon Web Services, Inc.", "US"))
                    for f in base.facts),
    )  # fmt: skip
    (change,) = changes(operated, base)
    assert change.kind is DriftKind.OPERATOR_CHANGED
    assert change.detail.startswith("host operator no longer known (was Amazon Web Services")
    gone = replace(base, facts=(), resolutions=())  # no address: the resolution says it
    assert of_kind(changes(operated, gone), DriftKind.OPERATOR_CHANGED) == []


def test_what_ran_is_recorded_only_when_the_run_tracked_control() -> None:
    probed = result(by_certificate(), OV, "ok")
    fields, evidence = control_record(probed, RAN)
    assert fields["controller"] == "Acme GmbH (DE)"
    assert evidence["ran"] == ["control-tables", "locator", "tls"]
    assert evidence["from"]["controller"] == "tls"
    assert control_record(probed)[1] == {}  # a run without the control tables: as before
    assert "control" not in endpoint_state(result(None))


def recorded(run_id: str, ts: float, endpoint: EndpointResult) -> AuditResult:
    run = audit_result(run_id, ts, [Host(HOST, (Addr("192.0.2.1"),))])
    tables = DataVersion("organisations.toml", "residency test")
    return replace(run, endpoints=(endpoint,), data_versions=(*run.data_versions, tables))


def test_history_and_diff_show_the_new_drift(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "history.sqlite3"))
    try:
        dpf = "listed (dpf-participants 2026-06-01: Acme GmbH)"
        store.record_run(recorded("r1", 1000, result(by_certificate(), OV, "ok")))
        store.record_run(recorded("r2", 2000, result(None)))  # --probe off: nothing
        store.record_run(recorded("r3", 3000, result(replace(by_tables(), dpf=dpf))))
        gone = replace(by_tables(), dpf="not listed (dpf-participants 2026-07-01)")
        store.record_run(recorded("r4", 4000, result(gone)))
        dv = result(nobody("DV certificate: names no organisation"), DV, "ok")
        store.record_run(recorded("r5", 5000, dv))
        events = [(e.kind, e.before, e.after) for e in store.history(HOST).events]
        diff = store.diff("r4", "r5")
    finally:
        store.close()
    # r1 -> r2 (probe off) raised nothing and held the certificate's answer, which the
    # tables' same answer in r3 does not displace; r4 -> r5: the certificate turned DV
    assert sorted(events) == [
        (DriftKind.CERT_ORG_CHANGED, "Acme GmbH (DE)", "none (no organisation)"),
        (DriftKind.CONTROLLER_CHANGED, "Acme GmbH (DE)", None),
        (DriftKind.DPF_CHANGED, "listed", "not listed"),
    ]
    (entry,) = diff.entries
    assert any("no longer known" in c.detail for c in entry.changes)


def test_a_pass_without_the_evidence_holds_its_answer_for_the_next(tmp_path: Path) -> None:
    """OV, then a pass with --probe off, then DV: the DV pass is compared with the
    certificate's answer the middle pass held, so the loss is not missed."""
    store = open_store(str(tmp_path / "history.sqlite3"))
    try:
        store.record_run(recorded("r1", 1000, result(by_certificate(), OV, "ok")))
        store.record_run(recorded("r2", 2000, result(None)))
        store.record_run(recorded("r3", 3000, result(None)))  # the same: one state
        dv = result(nobody("DV certificate: names no organisation"), DV, "ok")
        store.record_run(recorded("r4", 4000, dv))
        events = [(e.kind, e.before, e.after) for e in store.history(HOST).events]
        states = len(store.history(HOST).spans)
    finally:
        store.close()
    assert sorted(events) == [
        (DriftKind.CERT_ORG_CHANGED, "Acme GmbH (DE)", "none (no organisation)"),
        (DriftKind.CONTROLLER_CHANGED, "Acme GmbH (DE)", None),
    ]
    assert states == 3  # r2 and r3 share one state


def test_gleif_on_in_one_pass_only_raises_nothing_about_the_parent() -> None:
    """--gleif names the chain from LEI records; a pass without it (or where GLEIF did not
    answer) falls back to the curated chain: that is configuration, not drift."""
    gleif = result(
        replace(
            by_tables(),
            parents=(OwnerLink("ACME HOLDINGS INC.", "US", "GLEIF LEI 5299 direct parent (x)"),),
        )
    )
    assert changes(gleif, result(by_tables())) == []
    assert changes(result(by_tables()), gleif) == []
    other = result(
        replace(
            by_tables(),
            parents=(OwnerLink("Other Parent SE", "DE", "GLEIF LEI 5299 direct parent (y)"),),
        )
    )
    (change,) = changes(gleif, other)  # GLEIF in both passes: its answer changed
    assert change.kind is DriftKind.PARENT_CHANGED
