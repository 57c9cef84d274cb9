"""Judgement and the whole audit: verdicts with reasons, endpoint results, the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from residency.model.endpoints import Endpoint, InputProblem
from residency.model.facts import DataVersion, Evidence, IpFacts
from residency.model.probes import Controller, ProbeResult, Registrant, SovereignCloud
from residency.model.resolution import Resolution


class Verdict(IntEnum):
    """Policy judgement; ``max()`` gives the worst verdict.

    The value is the code stored in history rows and state bodies: a code is never
    renumbered, so a new verdict takes the next free one (WARN came after FAIL). Verdicts
    compare by ``severity``, not by code: PASS < WAIVED < WARN < INDETERMINATE < FAIL.
    """

    PASS = 0
    WAIVED = 1
    INDETERMINATE = 2
    FAIL = 3
    #: Something the policy chose to warn about (``cdn = "warn"``...): not a PASS, not a breach.
    WARN = 4

    def __str__(self) -> str:
        return self.name

    @property
    def severity(self) -> int:
        """Rank from best (0, PASS) to worst (4, FAIL)."""
        return SEVERITY[self]

    @property
    def compliant(self) -> bool:
        """PASS, WAIVED or WARN: nothing the policy calls a breach or cannot judge."""
        return SEVERITY[self] <= SEVERITY[4]

    @classmethod
    def by_severity(cls) -> tuple[Verdict, ...]:
        """Every verdict, best first."""
        return tuple(sorted(cls, key=SEVERITY.__getitem__))

    # Comparisons go by severity, so max(), sorted() and ``>= threshold`` mean "worse".
    # (The judging path compares verdicts per address: a dict look-up each, no more.)
    def __lt__(self, other: int) -> bool:
        return SEVERITY[self] < SEVERITY[other]

    def __le__(self, other: int) -> bool:
        return SEVERITY[self] <= SEVERITY[other]

    def __gt__(self, other: int) -> bool:
        return SEVERITY[self] > SEVERITY[other]

    def __ge__(self, other: int) -> bool:
        return SEVERITY[self] >= SEVERITY[other]


#: Stored code (or the Verdict itself: it hashes as its code) -> severity rank. With
#: ``max(verdicts, key=SEVERITY.__getitem__)`` the comparison stays in C.
SEVERITY: dict[int, int] = {0: 0, 1: 1, 4: 2, 2: 3, 3: 4}


# ----------------------------------------------------------------------- judgement


@dataclass(frozen=True)
class Reason:
    """Why a verdict was reached, citing the rule and the evidence."""

    code: str  # stable id, e.g. "country-denied", "anycast", "sources-disagree", "waived"
    message: str
    rule: str | None = None  # the policy rule that applied, e.g. "rules[payments]"
    evidence: tuple[str, ...] = ()  # Evidence.summary() strings that back it
    # The verdict this finding gives on its own (a FAIL address may also carry a WARN
    # finding); None on notes that decide nothing and on reasons made before it was kept.
    verdict: Verdict | None = None


@dataclass(frozen=True)
class AddressVerdict:
    ip: str
    verdict: Verdict
    reasons: tuple[Reason, ...]
    aspect: str = "location"  # "location", "operator" or "both": which side failed


@dataclass(frozen=True)
class EndpointVerdict:
    verdict: Verdict  # the worst of its addresses
    addresses: tuple[AddressVerdict, ...]
    reasons: tuple[Reason, ...] = ()  # endpoint-level: resolution failed, waiver expired...


# ---------------------------------------------------------------------- the audit


@dataclass(frozen=True)
class EndpointResult:
    endpoint: Endpoint
    resolutions: tuple[Resolution, ...]  # one per vantage/resolver
    facts: tuple[IpFacts, ...]  # one per distinct address, resolved or observed
    hints: tuple[Evidence, ...] = ()  # hostname-pattern evidence from the chain
    verdict: EndpointVerdict | None = None  # None when no policy was applied
    probes: tuple[ProbeResult, ...] = ()  # opt-in active probes (--probe), outcome each
    controller: Controller | None = None  # set when probes ran or a [controllers] table
    registrant: Registrant | None = None  # domain registrant (RDAP), with --rdap
    sovereign: SovereignCloud | None = None  # a named sovereign-cloud offering it runs on

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(f.ip for f in self.facts)


@dataclass(frozen=True)
class EndpointGroup:
    """Endpoints that share a controller or a registrable domain, so a report can read
    "Beijing Xiaomi ... (CN): 4 endpoints, hosted in SG, IN". ``name is None`` is the
    group whose key is unknown, and ``why`` says why (no controller evidence, an IP...)."""

    by: str  # "controller" or "domain"
    name: str | None  # the controller's entity or the registrable domain; None = unknown
    country: str | None = None  # the controller's country (by controller only)
    hosts: tuple[str, ...] = ()  # Endpoint.host of each member, in input order
    hosted_in: tuple[str, ...] = ()  # countries the members' addresses are in; "??" unplaced
    why: str = ""


@dataclass(frozen=True)
class PolicyRef:
    name: str
    version: str
    path: str | None = None
    sha256: str | None = None
    # Where each rule and waiver sits in the policy file: (label, line), e.g.
    # ("rules[payments]", 14), so a finding can point at the rule that decided it.
    rule_lines: tuple[tuple[str, int], ...] = ()

    def line_of(self, label: str | None) -> int:
        """The policy-file line of the rule or waiver ``label``; 0 when not known."""
        return next((line for name, line in self.rule_lines if name == label), 0)


@dataclass(frozen=True)
class AuditResult:
    run_id: str
    started: str
    finished: str
    endpoints: tuple[EndpointResult, ...]
    data_versions: tuple[DataVersion, ...]
    resolvers: tuple[str, ...] = ()
    vantages: tuple[str, ...] = ()
    policy: PolicyRef | None = None
    problems: tuple[InputProblem, ...] = ()
    verdict: Verdict | None = None  # worst of the endpoints; None without a policy
    tool_version: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    groups: tuple[EndpointGroup, ...] = ()  # by controller (when known), then by domain
