"""The policy as loaded: frozen, validated, with every group already expanded."""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from functools import cached_property

from residency.model import PolicyRef
from residency.policy.hostindex import HostPatterns


class Handling(StrEnum):
    """What to do with an address whose location cannot be judged (CDN edge, unknown...)."""

    ALLOW = "allow"  # PASS
    WARN = "warn"  # WARN: not a breach (exit 0 unless --fail-on warn), never a PASS
    FAIL = "fail"  # FAIL
    INDETERMINATE = "indeterminate"  # INDETERMINATE (the default)
    # cdn / anycast only: judge the address by the CDN edge an http probe saw (its PoP's
    # place) from this vantage, at that time; INDETERMINATE, with the reason, without one.
    EDGE = "edge"


#: The situations ``edge`` may be chosen for: an edge is seen only where there is one.
EDGE_KEYS = frozenset({"cdn", "anycast"})


#: Situations a policy can choose a Handling for, with their defaults.
HANDLING_KEYS: dict[str, str] = {
    "cdn": "CDN edge: the address is an edge, the origin behind it is unknown"
    " (edge = judge it by the edge an http probe saw)",
    "anycast": "anycast address: announced from many places (defaults to the value of cdn)",
    "unknown_location": "no source places the address, or the sources disagree",
    "unknown_operator": "operator jurisdiction unknown while the policy constrains it",
    "not_routable": "private, loopback or otherwise not publicly routable address",
    "unresolved": "the host did not resolve (NXDOMAIN, SERVFAIL...) and no address was seen",
    "unknown_controller": "no evidence of who controls the service while the policy constrains it",
}


#: Whose country a controller or operator rule judges: the entity's own, or that of the
#: top of its ownership chain (``jurisdiction = "ultimate-parent"``: the US CLOUD Act
#: reaches a US parent's subsidiaries wherever they are incorporated).
JURISDICTION_BASES = ("own", "ultimate-parent")


@dataclass(frozen=True)
class CodeConstraint:
    """Allowed and denied country (or jurisdiction) codes; ``allow is None`` = anything."""

    allow: frozenset[str] | None
    deny: frozenset[str]
    allow_text: tuple[str, ...] = ()  # as written, e.g. ("@EU", "CH"), for reasons
    deny_text: tuple[str, ...] = ()
    jurisdiction: str = "own"  # "own" or "ultimate-parent"
    # controllers only: a recipient in one of these countries passes when the EU-US Data
    # Privacy Framework list names it (adequacy for certified organisations only)
    dpf: frozenset[str] = frozenset()

    def describe_allow(self) -> str:
        return ", ".join(self.allow_text) or "nothing"

    def describe_deny(self) -> str:
        return ", ".join(self.deny_text)


@dataclass(frozen=True)
class SovereignConstraint:
    """``[sovereign]``: named sovereign-cloud offerings (data/sovereign_clouds.toml) denied,
    or allowed: an allowed offering's operating entity is judged by its own country even
    where a rule asks for the ultimate parent's (the buyer accepted its separation)."""

    allow: frozenset[str] | None
    deny: frozenset[str]


@dataclass(frozen=True)
class ProviderSelector:
    """``aws``, ``aws:*`` (any region) or ``aws:ap-south-1``."""

    provider: str
    region: str | None  # None = any region

    def matches(self, provider: str | None, region: str | None) -> bool:
        if provider != self.provider:
            return False
        return self.region is None or (region is not None and region.lower() == self.region)

    def __str__(self) -> str:
        return f"{self.provider}:{self.region or '*'}"


@dataclass(frozen=True)
class ProviderConstraint:
    allow: tuple[ProviderSelector, ...] | None
    deny: tuple[ProviderSelector, ...]


@dataclass(frozen=True)
class Scope:
    """The settings a rule may override. ``None`` means "inherit from the policy"."""

    countries: CodeConstraint | None = None
    providers: ProviderConstraint | None = None
    operator_jurisdictions: CodeConstraint | None = None
    cdn: Handling | None = None
    anycast: Handling | None = None
    unknown_location: Handling | None = None
    unknown_operator: Handling | None = None
    not_routable: Handling | None = None
    unresolved: Handling | None = None
    controllers: CodeConstraint | None = None  # countries the service's controller may be in
    unknown_controller: Handling | None = None
    sovereign: SovereignConstraint | None = None

    def overlaid(self, other: Scope) -> Scope:
        """This scope with every setting ``other`` sets replacing ours (whole sections)."""
        changes = {
            name: getattr(other, name)
            for name in self.__dataclass_fields__
            if getattr(other, name) is not None
        }
        return replace(self, **changes)

    def handling(self, key: str) -> Handling:
        value = getattr(self, key)
        if value is None and key == "anycast":
            value = self.cdn
        return value if isinstance(value, Handling) else Handling.INDETERMINATE


def glob_specificity(pattern: str) -> int:
    """How specific a host pattern is: the count of literal characters."""
    return sum(1 for char in pattern if char not in "*?[]")


def host_matches(pattern: str, host: str) -> bool:
    return fnmatch.fnmatchcase(host.lower(), pattern.lower())


@dataclass(frozen=True)
class Rule:
    """A scoped rule: applies to endpoints whose host matches ``hosts`` and/or that carry
    one of ``categories``; its settings override the policy-wide ones."""

    name: str
    hosts: tuple[str, ...]
    categories: tuple[str, ...]
    scope: Scope
    line: int = 0
    description: str = ""

    @property
    def label(self) -> str:
        return f"rules[{self.name}]"

    def host_match(self, host: str) -> str | None:
        """The most specific of our patterns that matches ``host``, if any."""
        matching = [p for p in self.hosts if host_matches(p, host)]
        return max(matching, key=glob_specificity) if matching else None


@dataclass(frozen=True)
class CategoryAssignment:
    """``[[categories]]``: hosts matching these patterns carry category ``name``."""

    name: str
    hosts: tuple[str, ...]
    line: int = 0
    description: str = ""


@dataclass(frozen=True)
class Waiver:
    """An accepted exception for a host (exact or glob) or an address (IP or CIDR)."""

    justification: str
    owner: str
    expires: date
    host: str | None = None
    address: str | None = None
    line: int = 0
    reference: str = ""

    @property
    def label(self) -> str:
        return f"waivers[{self.host or self.address}]"

    def expired(self, today: date) -> bool:
        """A waiver is valid through its expiry date, inclusive."""
        return today > self.expires

    def covers_address(self, ip: str) -> bool:
        if self.address is None:
            return False
        try:
            return ipaddress.ip_address(ip) in ipaddress.ip_network(self.address, strict=False)
        except ValueError:
            return False

    def covers_host(self, host: str) -> bool:
        return self.host is not None and host_matches(self.host, host)


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    description: str
    base: Scope  # the policy-wide settings
    rules: tuple[Rule, ...] = ()
    categories: tuple[CategoryAssignment, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    path: str | None = None
    sha256: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)  # non-fatal remarks from loading
    # [controllers.known]: the user's first-party table, domain -> (entity, country).
    controllers_known: tuple[tuple[str, str, str | None], ...] = ()

    @property
    def controller_table(self) -> dict[str, tuple[str, str | None]]:
        return {domain: (entity, country) for domain, entity, country in self.controllers_known}

    @property
    def ref(self) -> PolicyRef:
        lines = tuple((rule.label, rule.line) for rule in self.rules if rule.line) + tuple(
            (waiver.label, waiver.line) for waiver in self.waivers if waiver.line
        )
        return PolicyRef(
            name=self.name,
            version=self.version,
            path=self.path,
            sha256=self.sha256,
            rule_lines=lines,
        )

    def categories_of(self, host: str, given: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The endpoint's own categories plus those the policy assigns by host pattern."""
        found = list(given)
        patterns, owners = self._category_hosts
        for index in dict.fromkeys(owners[p] for p in patterns.matching(host)):
            name = self.categories[index].name
            if name not in found:
                found.append(name)
        return tuple(found)

    def host_rule_matches(self, host: str) -> dict[int, str]:
        """Rule index -> the most specific of that rule's host patterns matching ``host``
        (the first such pattern on a tie), for the rules with a matching host pattern."""
        patterns, owners = self._rule_hosts
        best: dict[int, str] = {}
        for position in patterns.matching(host):
            index = owners[position]
            pattern = self.rules[index].hosts[position - self._rule_starts[index]]
            known = best.get(index)
            if known is None or glob_specificity(pattern) > glob_specificity(known):
                best[index] = pattern
        return best

    def waivers_for_host(self, host: str) -> list[Waiver]:
        """The waivers whose host pattern matches ``host``, in file order."""
        patterns, owners = self._waiver_hosts
        return [self.waivers[owners[p]] for p in patterns.matching(host)]

    @cached_property
    def category_free_rules(self) -> tuple[int, ...]:
        """Indexes of the rules without host patterns (they apply by category)."""
        return tuple(i for i, rule in enumerate(self.rules) if not rule.hosts)

    # The indexes are built once per loaded policy, on first use (a frozen dataclass
    # can hold a cached_property: it writes to the instance dict directly).
    @cached_property
    def _rule_hosts(self) -> tuple[HostPatterns, tuple[int, ...]]:
        return _index((i, rule.hosts) for i, rule in enumerate(self.rules))

    @cached_property
    def _rule_starts(self) -> tuple[int, ...]:
        starts, position = [], 0
        for rule in self.rules:
            starts.append(position)
            position += len(rule.hosts)
        return tuple(starts)

    @cached_property
    def _category_hosts(self) -> tuple[HostPatterns, tuple[int, ...]]:
        return _index((i, a.hosts) for i, a in enumerate(self.categories))

    @cached_property
    def _waiver_hosts(self) -> tuple[HostPatterns, tuple[int, ...]]:
        return _index(
            (i, (w.host,) if w.host is not None else ()) for i, w in enumerate(self.waivers)
        )


def _index(groups: Iterable[tuple[int, Sequence[str]]]) -> tuple[HostPatterns, tuple[int, ...]]:
    """One index over every group's patterns, and the group of each pattern position."""
    patterns: list[str] = []
    owners: list[int] = []
    for owner, hosts in groups:
        patterns.extend(hosts)
        owners.extend([owner] * len(hosts))
    return HostPatterns(patterns), tuple(owners)
