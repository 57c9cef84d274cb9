"""The values the history store hands back (frozen dataclasses), shared by its parts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from residency.drift import Change, DriftEvent


@dataclass(frozen=True)
class RecordOutcome:
    """What recording one run did."""

    run_id: str
    run_seq: int
    inserted: bool  # False: this run id was already stored (a replay), nothing written
    checked: int = 0
    changed: int = 0
    events: tuple[Change, ...] = ()


@dataclass(frozen=True)
class RunInfo:
    seq: int
    id: str
    kind: str
    started: str
    finished: str
    endpoint_count: int
    changed_count: int
    data_versions: tuple[tuple[str, str], ...]
    policy: str | None
    verdict: int | None
    resolvers: tuple[str, ...]
    vantages: tuple[str, ...]
    worker: str | None


@dataclass(frozen=True)
class StateSpan:
    """One stretch of time during which an endpoint looked the same."""

    first_seen: str
    last_seen: str
    first_run: str
    last_run: str
    checks: int
    body: dict[str, Any]

    @property
    def verdict(self) -> int | None:
        value = self.body.get("verdict")
        return None if value is None else int(value)


@dataclass(frozen=True)
class LocationSeen:
    """First and last time an address of an endpoint was seen in one place."""

    ip: str
    country: str | None
    provider: str | None
    region: str | None
    asn: int | None
    first_seen: str
    last_seen: str
    current: bool


@dataclass(frozen=True)
class Timeline:
    host: str
    endpoints: tuple[str, ...]
    spans: tuple[StateSpan, ...]
    events: tuple[DriftEvent, ...]
    locations: tuple[LocationSeen, ...]


@dataclass(frozen=True)
class DiffEntry:
    endpoint: str
    host: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class RunDiff:
    run_a: RunInfo
    run_b: RunInfo
    entries: tuple[DiffEntry, ...]


@dataclass(frozen=True)
class StateJudgement:
    """The verdict a re-judging policy gives one recorded state (from its first check)."""

    first_seen: str
    verdict: int | None  # None: not judged, see `why`
    address_verdicts: tuple[tuple[str, int], ...]
    why: str = ""  # "unknown, because ..." when the recorded facts could not be judged


@dataclass(frozen=True)
class EndpointCompliance:
    endpoint: str
    host: str
    checks: int
    compliant_checks: int
    judged_checks: int
    uptime: float | None  # time-weighted share of the period spent compliant; None if unjudged
    current_verdict: int | None
    locations: tuple[LocationSeen, ...]
    #: Re-judged reports only: each state's new verdict (recorded verdicts are not used).
    judgements: tuple[StateJudgement, ...] = ()


@dataclass(frozen=True)
class ComplianceReport:
    since: str
    until: str
    endpoints: tuple[EndpointCompliance, ...]
    #: "name version" of the policy the recorded facts were re-judged with; None when the
    #: verdicts are those recorded at the time of each check.
    rejudged_with: str | None = None


@dataclass(frozen=True)
class TargetSpec:
    """A watch target as the user declares it."""

    host: str
    display: str = ""
    vantage: str | None = None
    policy: str | None = None
    cadence: float | None = None  # fixed seconds between checks; None: follow the TTL
    min_interval: float = 300.0
    max_interval: float = 86400.0
    jitter: float = 0.1  # +/- share of the interval


@dataclass(frozen=True)
class WatchTarget:
    id: int
    host: str
    display: str
    vantage: str | None
    policy: str | None
    cadence: float | None
    min_interval: float
    max_interval: float
    jitter: float
    source: str
    next_due: float
    last_checked: float | None
    checks: int


@dataclass(frozen=True)
class Completion:
    """A claimed target has been checked: when it is next due."""

    target_id: int
    next_due: float
    checked_at: float
    run_id: str | None  # None: the check failed, only the schedule moves


@dataclass(frozen=True)
class BatchOutcome:
    recorded: tuple[RecordOutcome, ...]
    completed: int  # schedule rows we still held and moved on
    lost_leases: tuple[int, ...]  # target ids whose lease another worker took meanwhile
