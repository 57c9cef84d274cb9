"""How one name resolved: the outcome, the CNAME chain and the addresses."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """How a DNS resolution ended. Never a silent empty list."""

    RESOLVED = "resolved"
    LITERAL = "ip-literal"  # the endpoint was an address, no DNS involved
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    CNAME_LOOP = "cname-loop"
    CHAIN_TOO_LONG = "chain-too-long"
    DELEGATED = "delegated"  # a referral from a non-recursive server; not followed
    RESOLVER_UNREACHABLE = "resolver-unreachable"  # the start-up check got no answer at all
    ERROR = "error"  # anything else (network unreachable, malformed reply)


@dataclass(frozen=True)
class ChainStep:
    """One record on the way from the queried name to its addresses."""

    owner: str
    rtype: str  # "CNAME", "A", "AAAA", "HTTPS"
    target: str  # CNAME target, address, or hint text
    ttl: int


@dataclass(frozen=True)
class ResolvedAddress:
    ip: str
    ttl: int | None
    via: str  # "A", "AAAA", "HTTPS-ipv4hint", "HTTPS-ipv6hint", "literal", "observed"


@dataclass(frozen=True)
class Resolution:
    """The result of resolving one name once, from one resolver and vantage."""

    name: str
    outcome: Outcome
    chain: tuple[ChainStep, ...] = ()
    addresses: tuple[ResolvedAddress, ...] = ()
    resolver: str = "system"
    vantage: str | None = None  # country code whose ECS prefix was sent
    ecs_prefix: str | None = None  # the client subnet sent, e.g. "49.36.0.0/24"
    ecs_scope: int | None = None  # scope prefix length the server returned
    error: str = ""  # detail for non-resolved outcomes
    when: str | None = None  # ISO-8601 time of the resolution

    @property
    def cname_targets(self) -> tuple[str, ...]:
        return tuple(s.target for s in self.chain if s.rtype == "CNAME")

    @property
    def min_ttl(self) -> int | None:
        """When the first record of this answer expires: the smallest TTL of the chain
        and of the addresses (the one definition; the monitor schedules by it)."""
        ttls = [s.ttl for s in self.chain]
        ttls += [a.ttl for a in self.addresses if a.ttl is not None]
        return min(ttls) if ttls else None
