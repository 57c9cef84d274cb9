"""Reading one DNS reply: follow the CNAME chain in its answer section to the records asked for.

Pure functions over ``dns_message.Reply``, so every case can be tested from bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from residency.model import ChainStep, ResolvedAddress
from residency.resolve.dns_message import AAAA, CNAME, HTTPS, Record, Reply

A = 1
TYPE_NAMES = {1: "A", 28: "AAAA", 65: "HTTPS", 5: "CNAME"}


@dataclass
class Walk:
    """What one reply says about ``start``: CNAME steps, then records (or not)."""

    start: str
    final: str  # where the chain in this reply ends
    steps: list[ChainStep] = field(default_factory=list)  # CNAME steps, then record steps
    addresses: list[ResolvedAddress] = field(default_factory=list)
    cnames: int = 0
    loop: bool = False  # a CNAME pointed back at a name already in the chain
    has_records: bool = False  # the reply holds records of the asked type at ``final``

    negative: bool = False  # the reply's SOA covers ``final``: an answer that there is none

    @property
    def dangling(self) -> bool:
        """The chain ends on a CNAME target this reply says nothing about: ask again there.

        A server that stops at a zone boundary gives no SOA for the target; one that
        knows the target has no such record says so with the SOA of the target's zone.
        """
        return self.cnames > 0 and not self.has_records and not self.loop and not self.negative


def walk_answer(reply: Reply, start: str, rdtype: int, seen: set[str]) -> Walk:
    """Follow CNAMEs from ``start`` through ``reply``'s answer; ``seen`` is updated in place.

    Names are compared in lower case (the wire reader lowers them). ``seen`` holds every
    name already in the chain, across earlier replies too, so a loop spread over several
    zones is caught as surely as one inside a single reply.
    """
    records: dict[str, list[Record]] = {}
    cnames: dict[str, Record] = {}
    for record in reply.answers:
        if record.rtype == CNAME:
            cnames.setdefault(record.owner, record)
        elif record.rtype == rdtype:
            records.setdefault(record.owner, []).append(record)
    walk = Walk(start=start, final=start)
    current = start
    seen.add(current)
    while True:
        found = records.get(current)
        if found:
            walk.has_records = True
            _take(walk, found)
            break
        cname = cnames.get(current)
        if cname is None:
            break
        walk.steps.append(ChainStep(current, "CNAME", cname.value, cname.ttl))
        walk.cnames += 1
        walk.final = cname.value
        if cname.value in seen:
            walk.loop = True
            break
        seen.add(cname.value)
        current = cname.value
    if not walk.has_records and reply.soa_owners:
        final = walk.final
        walk.negative = any(
            final == zone or final.endswith("." + zone) or not zone for zone in reply.soa_owners
        )
    return walk


def _take(walk: Walk, records: list[Record]) -> None:
    for record in records:
        if record.rtype == HTTPS:
            walk.steps.append(ChainStep(record.owner, "HTTPS", record.value, record.ttl))
            walk.addresses.extend(ResolvedAddress(ip, record.ttl, via) for ip, via in record.hints)
        else:
            via = "A" if record.rtype == A else "AAAA"
            walk.steps.append(ChainStep(record.owner, via, record.value, record.ttl))
            walk.addresses.append(ResolvedAddress(record.value, record.ttl, via))


__all__ = ["AAAA", "CNAME", "HTTPS", "TYPE_NAMES", "A", "Walk", "walk_answer"]
