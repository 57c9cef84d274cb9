"""Following a CNAME chain through one reply."""

from __future__ import annotations

import dns.message
import dns.rrset

from residency.model import ChainStep
from residency.resolve.chain import AAAA, A, walk_answer
from residency.resolve.dns_message import parse_reply


def reply(qname: str, rdtype: str, lines: list[str]):  # type: ignore[no-untyped-def]
    response = dns.message.make_response(dns.message.make_query(qname, rdtype))
    for line in lines:
        response.answer.append(dns.rrset.from_text(*line.split(maxsplit=4)))
    return parse_reply(response.to_wire())


def test_full_chain_in_one_reply_keeps_every_ttl() -> None:
    walk = walk_answer(
        reply(
            "api.example.",
            "A",
            [
                "api.example. 300 IN CNAME lb.example.net.",
                "lb.example.net. 60 IN CNAME node.example.org.",
                "node.example.org. 20 IN A 192.0.2.7",
            ],
        ),
        "api.example",
        A,
        set(),
    )
    assert walk.has_records and not walk.dangling and not walk.loop
    assert walk.steps == [
        ChainStep("api.example", "CNAME", "lb.example.net", 300),
        ChainStep("lb.example.net", "CNAME", "node.example.org", 60),
        ChainStep("node.example.org", "A", "192.0.2.7", 20),
    ]
    assert [a.ip for a in walk.addresses] == ["192.0.2.7"]


def test_chain_that_stops_at_a_zone_boundary_is_dangling() -> None:
    walk = walk_answer(
        reply("api.example.", "AAAA", ["api.example. 300 IN CNAME lb.example.net."]),
        "api.example",
        AAAA,
        set(),
    )
    assert walk.dangling and walk.final == "lb.example.net"


def test_records_of_other_owners_are_ignored() -> None:
    walk = walk_answer(
        reply("api.example.", "A", ["other.example. 300 IN A 192.0.2.1"]), "api.example", A, set()
    )
    assert not walk.has_records and not walk.dangling and walk.addresses == []


def test_loop_across_replies_is_detected_with_shared_seen_set() -> None:
    seen: set[str] = set()
    first = walk_answer(
        reply("a.example.", "A", ["a.example. 60 IN CNAME b.example."]), "a.example", A, seen
    )
    assert first.dangling
    second = walk_answer(
        reply("b.example.", "A", ["b.example. 60 IN CNAME A.example."]), "b.example", A, seen
    )
    assert second.loop and second.final == "a.example"


def test_soa_for_the_target_means_nodata_not_a_zone_boundary() -> None:
    response = dns.message.make_response(dns.message.make_query("api.example.", "HTTPS"))
    response.answer.append(
        dns.rrset.from_text("api.example.", 300, "IN", "CNAME", "lb.zone.example.")
    )
    response.authority.append(
        dns.rrset.from_text(
            "zone.example.", 60, "IN", "SOA", "ns.zone.example. h.zone.example. 1 2 3 4 5"
        )
    )
    reply = parse_reply(response.to_wire())
    assert reply.soa_owners == ("zone.example",)
    walk = walk_answer(reply, "api.example", 65, set())
    assert walk.negative and not walk.dangling


def test_soa_of_another_zone_does_not_end_the_chain() -> None:
    response = dns.message.make_response(dns.message.make_query("api.example.", "A"))
    response.answer.append(
        dns.rrset.from_text("api.example.", 300, "IN", "CNAME", "lb.other.example.")
    )
    response.authority.append(
        dns.rrset.from_text(
            "example.org.", 60, "IN", "SOA", "ns.example.org. h.example.org. 1 2 3 4 5"
        )
    )
    walk = walk_answer(parse_reply(response.to_wire()), "api.example", A, set())
    assert walk.dangling
