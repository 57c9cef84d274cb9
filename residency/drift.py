"""Drift: what changed between two states of an endpoint, as a list of events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from residency.model import Controller, EndpointResult, Verdict


class DriftKind(StrEnum):
    ADDRESS_APPEARED = "address-appeared"
    ADDRESS_DISAPPEARED = "address-disappeared"
    COUNTRY_CHANGED = "country-changed"
    PROVIDER_CHANGED = "provider-changed"
    REGION_CHANGED = "region-changed"
    ASN_CHANGED = "asn-changed"
    PLACE_CHANGED = "place-changed"  # subdivision, city or anycast status
    MOVED_BY_DATA_UPDATE = "moved-by-data-update"
    CNAME_CHANGED = "cname-changed"
    OUTCOME_CHANGED = "resolution-changed"
    VERDICT_CHANGED = "verdict-changed"
    CONTROLLER_CHANGED = "controller-changed"
    PARENT_CHANGED = "ultimate-parent-changed"
    CERT_ORG_CHANGED = "certificate-org-changed"
    OPERATOR_CHANGED = "operator-changed"
    DPF_CHANGED = "dpf-status-changed"


#: Location fields whose change is a drift event of its own kind.
FIELD_KINDS: dict[str, DriftKind] = {
    "country": DriftKind.COUNTRY_CHANGED,
    "provider": DriftKind.PROVIDER_CHANGED,
    "region": DriftKind.REGION_CHANGED,
    "asn": DriftKind.ASN_CHANGED,
}
LOCATION_FIELDS = ("country", "subdivision", "city", "provider", "region", "asn", "anycast")


# ------------------------------------------------------------------ control fields
#
# The rule (docs/monitoring-ops.md, "Known, unknown, and evidence that did not run"): a
# control field is compared when both checks observed it. A value going to or from
# "unknown" is drift, with the reason, but only when the evidence that gave the known
# value ran in the other check too: a check that did not run that evidence (--probe off
# in one pass, a TLS handshake that failed, --rdap off, another policy) says nothing
# about it, so flapping configuration raises nothing, and holds what it gave for the next
# check that runs it. What ran is recorded beside the fields ("control_evidence").

#: Evidence a check can run, as recorded in its state.
TABLES = "control-tables"  # the run tracked control: shipped and entity tables in use
TLS = "tls"  # a TLS probe read a certificate
RDAP = "rdap"  # the domain's registry answered (registrant named or redacted)
POLICY = "policy"  # a policy judged the endpoint (its [controllers.known] table)
GLEIF = "gleif"  # GLEIF's LEI records gave the ownership chain (--gleif)
LOCATOR = "locator"  # the address datasets (always run; their updates are data updates)
#: Evidence whose answers change with a data update (told apart in the event's detail).
_DATA = frozenset({TABLES, LOCATOR})
_WHY_LIMIT = 300


def run_evidence(dataset_names: Iterable[str]) -> tuple[str, ...]:
    """Evidence a whole run ran, from the datasets it used: the control tables when
    ``organisations.toml`` (shipped with the control evidence) is among them."""
    from residency.control.organisations import FILE

    return (TABLES,) if FILE in dataset_names else ()


def _who(entity: str | None, country: str | None) -> str | None:
    if not entity:
        return None
    return f"{entity} ({country})" if country else entity


def _controller_source(controller: Controller) -> str:
    """The evidence that named ``controller`` (its basis, as rank.py sets it)."""
    basis = controller.basis
    if basis.endswith(" certificate"):
        return TLS
    if basis == "first-party table":
        return POLICY
    if basis.startswith("registrant"):
        return RDAP
    return TABLES


def _controller(result: EndpointResult) -> tuple[bool, str | None]:
    controller = result.controller
    if controller is None:
        return False, None
    return True, _who(controller.entity, controller.country)


def _controller_basis(result: EndpointResult) -> tuple[str, str]:
    controller = result.controller
    if controller is None:
        return "", "no table in use lists it and no other evidence names it"
    if controller.entity is None:
        return "", controller.why or "no evidence names it"
    return _controller_source(controller), ""


def _ultimate_parent(result: EndpointResult) -> tuple[bool, str | None]:
    """The top of the controller's ownership chain (``Controller.parents``, direct parent
    first); unknown when the chain stops short; not observed without a named controller
    (the controller field speaks) or when the controller has no owner above it."""
    controller = result.controller
    if controller is None or controller.entity is None:
        return False, None
    if controller.parents:
        top = controller.parents[-1]
        return True, _who(top.entity, top.country)
    return (True, None) if controller.parent_unknown else (False, None)


def _from_gleif(controller: Controller | None) -> bool:
    return controller is not None and any(
        link.source.startswith("GLEIF ") for link in controller.parents
    )


def _parent_basis(result: EndpointResult) -> tuple[str, str]:
    controller = result.controller
    if controller is None or controller.entity is None:
        return "", ""
    if not controller.parents:
        return "", controller.parent_unknown
    return (GLEIF if _from_gleif(controller) else _controller_source(controller)), ""


def _dpf(result: EndpointResult) -> tuple[bool, str | None]:
    """Whether the controller (or an owner above it) is on the EU-US Data Privacy
    Framework list; observed only with a named controller and a list in use."""
    controller = result.controller
    if controller is None or controller.entity is None or not controller.dpf:
        return False, None
    return True, "not listed" if controller.dpf.startswith("not listed") else "listed"


def _cert_org(result: EndpointResult) -> tuple[bool, str | None]:
    """The organisations named by the certificates TLS probes read; a check whose TLS
    probes all failed observed nothing (not "no organisation")."""
    certs = [p.cert for p in result.probes if p.kind == "tls" and p.cert is not None]
    if not certs:
        return False, None
    names = sorted({_who(c.subject_o, c.subject_c) or "none (no organisation)" for c in certs})
    return True, " | ".join(names)


def _operator(result: EndpointResult) -> tuple[bool, str | None]:
    names = sorted(
        {
            who
            for f in result.facts
            if f.operator is not None
            and (who := _who(f.operator.entity or f.operator.provider, f.operator.jurisdiction))
        }
    )
    if not names:
        return False, None
    return True, " | ".join(names)


def _operator_basis(result: EndpointResult) -> tuple[str, str]:
    return LOCATOR, "no dataset names an operator of its addresses" if result.facts else ""


@dataclass(frozen=True)
class ControlField:
    """One fact about who controls an endpoint whose change is drift.

    ``read`` returns (observed, value): a field this check could not observe (no probe
    ran, the probes failed, no chain is known) is left out of the state and never
    compared; ``None`` is an observed "unknown". New fields plug in by being added to
    ``CONTROL_FIELDS``; states recorded before a field existed simply lack it.

    ``basis`` (optional) returns (the evidence that gave a known value, why an unknown
    one is unknown). With it, a check that ran the control tables also records the
    field's "unknown" when nothing names it, and a change is compared only when the
    evidence behind each known side ran in the other check too."""

    name: str  # key in the state's "control" object
    kind: DriftKind
    label: str  # how a change reads: "controller Acme (DE) -> Other (US)"
    read: Callable[[EndpointResult], tuple[bool, str | None]]
    basis: Callable[[EndpointResult], tuple[str, str]] | None = None
    #: another field whose value a change names ("... status of Google LLC (US): ...")
    about: str = ""
    #: a change found after a data update is said to be one (the field is data's)
    data: bool = False


CONTROL_FIELDS: tuple[ControlField, ...] = (
    ControlField(
        "controller", DriftKind.CONTROLLER_CHANGED, "controller", _controller, _controller_basis
    ),
    ControlField(
        "ultimate_parent",
        DriftKind.PARENT_CHANGED,
        "ultimate parent",
        _ultimate_parent,
        _parent_basis,
    ),
    ControlField(
        "cert_org",
        DriftKind.CERT_ORG_CHANGED,
        "certificate organisation",
        _cert_org,
        lambda result: (TLS, ""),
    ),
    ControlField(
        "operator",
        DriftKind.OPERATOR_CHANGED,
        "host operator",
        _operator,
        _operator_basis,
        data=True,
    ),
    ControlField(
        "dpf",
        DriftKind.DPF_CHANGED,
        "EU-US Data Privacy Framework status",
        _dpf,
        about="controller",
        data=True,
    ),
)


def endpoint_evidence(result: EndpointResult, ran: Iterable[str] = ()) -> list[str]:
    """What ran for this endpoint in this check: ``ran`` (the run's, see run_evidence)
    and what its own results show (a certificate read, a registry's answer, a verdict)."""
    found = set(ran)
    if any(p.kind == "tls" and p.cert is not None for p in result.probes):
        found.add(TLS)
    registrant = result.registrant
    if registrant is not None and registrant.status in ("known", "redacted"):
        found.add(RDAP)
    if result.verdict is not None:
        found.add(POLICY)
    if _from_gleif(result.controller):
        found.add(GLEIF)
    if result.facts:
        found.add(LOCATOR)
    return sorted(found)


def control_state(result: EndpointResult, ran: Iterable[str] = ()) -> dict[str, str | None]:
    """The observed control fields of one check (empty when none was observed)."""
    return control_record(result, ran)[0]


def control_record(
    result: EndpointResult, ran: Iterable[str] = ()
) -> tuple[dict[str, str | None], dict[str, Any]]:
    """The observed control fields of one check and, when the run tracked control
    (``ran`` holds the control tables), what ran and what gave each field:
    ``{"ran": [...], "from": {field: evidence}, "why": {field: why it is unknown}}``."""
    ran = tuple(ran)
    tracked = TABLES in ran
    state: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    whys: dict[str, str] = {}
    for control in CONTROL_FIELDS:
        observed, value = control.read(result)
        if tracked and control.basis is not None:
            source, why = control.basis(result)
            if value is None and why:
                observed = True  # the evidence ran and named nobody: an observed unknown
                whys[control.name] = why[:_WHY_LIMIT]
            elif observed and value is not None and source:
                sources[control.name] = source
        if observed:
            state[control.name] = value
    if not tracked or not state:
        return state, {}
    return state, {"ran": endpoint_evidence(result, ran), "from": sources, "why": whys}


#: Evidence that names a controller, best first (rank.py's order).
_RANK = {TLS: 0, POLICY: 1, GLEIF: 2, TABLES: 3, RDAP: 4, LOCATOR: 3}


def hold_control(before: Mapping[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """``after`` (a state about to be recorded) with each control field kept as ``before``
    had it when the evidence that gave it did not run in this check and nothing better
    ran instead (a pass with --probe off keeps the certificate's controller): the next
    check that runs that evidence is compared with it, not with this check's "unknown".
    Held fields are listed in ``control_evidence["held"]``. The state's fingerprint stays
    the check's own, so identical checks still count as unchanged."""
    old_ev, new_ev = (before or {}).get("control_evidence"), after.get("control_evidence")
    if not old_ev or not new_ev:
        return after
    old, new = (before or {}).get("control") or {}, after.get("control") or {}
    control, sources, whys = dict(new), dict(new_ev["from"]), dict(new_ev["why"])
    held: list[str] = []
    for field in CONTROL_FIELDS:
        name = field.name
        value, source = old.get(name), old_ev["from"].get(name)
        if value is None or not source or source in new_ev["ran"]:
            continue
        now = new_ev["from"].get(name)
        if new.get(name) is not None and now and _RANK.get(now, 9) <= _RANK.get(source, 9):
            continue  # evidence as good that ran names someone: that answer stands
        control[name], sources[name] = value, source
        whys.pop(name, None)
        held.append(name)
    if not held:
        return after
    evidence = {**new_ev, "from": sources, "why": whys, "held": held}
    return {**after, "control": control, "control_evidence": evidence}


def _comparable(
    name: str, a: str | None, b: str | None, old: Mapping[str, Any], new: Mapping[str, Any]
) -> bool:
    """Whether the evidence behind each known side of ``name`` ran in the other check
    (a value held from an earlier check counts as its evidence's answer there)."""
    if not old or not new:
        return True  # a state recorded before evidence was: compare what both observed
    if a is not None and old["from"].get(name, "") not in ("", *new["ran"]):
        return False
    old_ran = [*old["ran"], *([old["from"][name]] if name in old.get("held", ()) else [])]
    return b is None or new["from"].get(name, "") in ("", *old_ran)


def _control_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], data_changed: bool
) -> list[Change]:
    old, new = before.get("control") or {}, after.get("control") or {}
    old_ev, new_ev = before.get("control_evidence") or {}, after.get("control_evidence") or {}
    changes = []
    for control in CONTROL_FIELDS:
        name = control.name
        if name not in old or name not in new:
            continue  # not observed on one side: nothing to compare
        a, b = old[name], new[name]
        if a == b or not _comparable(name, a, b, old_ev, new_ev):
            continue
        sources = {(old_ev.get("from") or {}).get(name), (new_ev.get("from") or {}).get(name)}
        by_data = control.data or bool(sources & _DATA)
        why = " (after a data update)" if data_changed and by_data else ""
        label = control.label
        if control.about and (subject := new.get(control.about) or old.get(control.about)):
            label = f"{label} of {subject}:"
        if a is not None and b is None and (new_ev.get("why") or {}).get(name):
            detail = f"{label} no longer known (was {a}): {new_ev['why'][name]}"
        elif a is None and b is not None and (old_ev.get("why") or {}).get(name):
            detail = f"{label} now known: {b} (was unknown: {old_ev['why'][name]})"
        else:
            detail = f"{label} {a or 'unknown'} -> {b or 'unknown'}"
        changes.append(Change(control.kind, None, a, b, detail + why))
    return changes


@dataclass(frozen=True)
class Change:
    """One difference between two states of one endpoint."""

    kind: DriftKind
    ip: str | None
    before: str | None
    after: str | None
    detail: str


@dataclass(frozen=True)
class DriftEvent:
    """A change as stored: which endpoint, in which run, when."""

    id: int
    host: str
    endpoint: str  # the endpoint key: host, or "host @vantage"
    run_id: str
    at: str  # ISO-8601 UTC
    kind: DriftKind
    ip: str | None
    before: str | None
    after: str | None
    detail: str

    def line(self) -> str:
        return f"{self.at} {self.host}: {self.detail}"


def describe_location(address: Mapping[str, Any]) -> str:
    """A short place text: ``DE (aws eu-central-1, AS16509)``."""
    where = address.get("country") or "unknown country"
    if address.get("subdivision"):
        where += f"/{address['subdivision']}"
    extra = [str(address[k]) for k in ("provider", "region") if address.get(k)]
    if address.get("asn") is not None:
        extra.append(f"AS{address['asn']}")
    if address.get("anycast"):
        extra.append("anycast")
    return f"{where} ({', '.join(extra)})" if extra else where


def _fmt(value: Any, field: str) -> str | None:
    if value is None:
        return None
    return f"AS{value}" if field == "asn" else str(value)


def _verdict_name(value: Any) -> str:
    return "none" if value is None else Verdict(int(value)).name


def compare(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], data_changed: bool
) -> list[Change]:
    """Events between two endpoint states (``serialize.endpoint_state`` bodies).

    ``data_changed``: the dataset versions differ between the two states, so a new
    place for an address that is still there is the data's doing, not the endpoint's.
    """
    if before is None:
        return []
    changes: list[Change] = []
    old_res = {(r["resolver"], r["vantage"], r["name"]): r for r in before["resolutions"]}
    new_res = {(r["resolver"], r["vantage"], r["name"]): r for r in after["resolutions"]}
    for key in sorted(set(old_res) & set(new_res), key=str):
        old, new = old_res[key], new_res[key]
        via = f" (vantage {key[1]})" if key[1] else ""
        if old["outcome"] != new["outcome"]:
            changes.append(
                Change(
                    DriftKind.OUTCOME_CHANGED,
                    None,
                    old["outcome"],
                    new["outcome"],
                    f"resolution {old['outcome']} -> {new['outcome']}{via}",
                )
            )
        old_cname = " -> ".join(step[2] for step in old["chain"])
        new_cname = " -> ".join(step[2] for step in new["chain"])
        if old_cname != new_cname:
            changes.append(
                Change(
                    DriftKind.CNAME_CHANGED,
                    None,
                    old_cname or None,
                    new_cname or None,
                    f"CNAME {old_cname or '(none)'} -> {new_cname or '(none)'}{via}",
                )
            )
    old_addr = {a["ip"]: a for a in before["addresses"]}
    new_addr = {a["ip"]: a for a in after["addresses"]}
    for ip in sorted(set(new_addr) - set(old_addr)):
        place = describe_location(new_addr[ip])
        changes.append(
            Change(DriftKind.ADDRESS_APPEARED, ip, None, place, f"address {ip} appeared: {place}")
        )
    for ip in sorted(set(old_addr) - set(new_addr)):
        place = describe_location(old_addr[ip])
        changes.append(
            Change(
                DriftKind.ADDRESS_DISAPPEARED, ip, place, None, f"address {ip} disappeared: {place}"
            )
        )
    for ip in sorted(set(old_addr) & set(new_addr)):
        old, new = old_addr[ip], new_addr[ip]
        moved = [f for f in LOCATION_FIELDS if old.get(f) != new.get(f)]
        if not moved:
            continue
        if data_changed:
            a, b = describe_location(old), describe_location(new)
            changes.append(
                Change(
                    DriftKind.MOVED_BY_DATA_UPDATE,
                    ip,
                    a,
                    b,
                    f"address {ip} unchanged but a data update moved it: {a} -> {b}",
                )
            )
            continue
        for field in moved:
            kind = FIELD_KINDS.get(field)
            if kind is None:
                continue
            a_text, b_text = _fmt(old.get(field), field), _fmt(new.get(field), field)
            changes.append(
                Change(
                    kind,
                    ip,
                    a_text,
                    b_text,
                    f"address {ip} {field} {a_text or 'unknown'} -> {b_text or 'unknown'}",
                )
            )
        if not any(f in FIELD_KINDS for f in moved):
            a, b = describe_location(old), describe_location(new)
            changes.append(
                Change(DriftKind.PLACE_CHANGED, ip, a, b, f"address {ip} place {a} -> {b}")
            )
    changes += _control_changes(before, after, data_changed)
    if before.get("verdict") != after.get("verdict"):
        a_v, b_v = _verdict_name(before.get("verdict")), _verdict_name(after.get("verdict"))
        changes.append(Change(DriftKind.VERDICT_CHANGED, None, a_v, b_v, f"verdict {a_v} -> {b_v}"))
    return changes
