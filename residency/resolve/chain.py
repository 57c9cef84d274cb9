"""Reading one DNS reply: follow the CNAME chain in its answer section to the records asked for.

Pure functions over ``dns.message.Message``, so every case can be tested from text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.svcbbase import ParamKey

from residency.model import ChainStep, ResolvedAddress

A = dns.rdatatype.A
AAAA = dns.rdatatype.AAAA
HTTPS = dns.rdatatype.HTTPS
CNAME = dns.rdatatype.CNAME


def display_name(name: dns.name.Name) -> str:
    """A name as results show it: no trailing dot, lower case."""
    return name.to_text(omit_final_dot=True).lower()


@dataclass
class Walk:
    """What one reply says about ``start``: CNAME steps, then records (or not)."""

    start: dns.name.Name
    final: dns.name.Name  # where the chain in this reply ends
    steps: list[ChainStep] = field(default_factory=list)  # CNAME steps, then record steps
    addresses: list[ResolvedAddress] = field(default_factory=list)
    cnames: int = 0
    loop: bool = False  # a CNAME pointed back at a name already in the chain
    has_records: bool = False  # the reply holds records of the asked type at ``final``

    @property
    def dangling(self) -> bool:
        """The chain ends on a CNAME target this reply has no records for: ask again there."""
        return self.cnames > 0 and not self.has_records and not self.loop


def _index(reply: dns.message.Message) -> dict[tuple[dns.name.Name, int], dns.rrset.RRset]:
    found: dict[tuple[dns.name.Name, int], dns.rrset.RRset] = {}
    for rrset in reply.answer:
        if rrset.rdclass == dns.rdataclass.IN:
            found.setdefault((rrset.name, rrset.rdtype), rrset)
    return found


def walk_answer(
    reply: dns.message.Message,
    start: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    seen: set[dns.name.Name],
) -> Walk:
    """Follow CNAMEs from ``start`` through ``reply``'s answer; ``seen`` is updated in place.

    ``seen`` holds every name already in the chain (across earlier replies too), so a
    loop spread over several zones is caught as surely as one inside a single reply.
    """
    answer = _index(reply)
    walk = Walk(start=start, final=start)
    current = start
    seen.add(current)
    while True:
        records = answer.get((current, rdtype))
        if records is not None:
            walk.has_records = True
            _take_records(walk, current, records)
            break
        cname = answer.get((current, CNAME))
        if cname is None:
            break
        target: dns.name.Name = cname[0].target
        walk.steps.append(
            ChainStep(display_name(current), "CNAME", display_name(target), int(cname.ttl))
        )
        walk.cnames += 1
        walk.final = target
        if target in seen:
            walk.loop = True
            break
        seen.add(target)
        current = target
    return walk


def _take_records(walk: Walk, owner: dns.name.Name, rrset: dns.rrset.RRset) -> None:
    owner_text = display_name(owner)
    ttl = int(rrset.ttl)
    if rrset.rdtype in (A, AAAA):
        via = "A" if rrset.rdtype == A else "AAAA"
        for rdata in rrset:
            address = str(rdata.address)
            walk.steps.append(ChainStep(owner_text, via, address, ttl))
            walk.addresses.append(ResolvedAddress(address, ttl, via))
        return
    if rrset.rdtype == HTTPS:
        for rdata in rrset:
            walk.steps.append(ChainStep(owner_text, "HTTPS", rdata.to_text(), ttl))
            for key, via in (
                (ParamKey.IPV4HINT, "HTTPS-ipv4hint"),
                (ParamKey.IPV6HINT, "HTTPS-ipv6hint"),
            ):
                param = rdata.params.get(key)
                if param is not None:
                    for address in param.addresses:
                        walk.addresses.append(ResolvedAddress(str(address), ttl, via))
