"""The wire reader and query builder agree with dnspython, and reject malformed replies."""

from __future__ import annotations

import dns.edns
import dns.message
import dns.rcode
import dns.rrset
import pytest

from residency.resolve import dns_message as wire
from residency.resolve.dns_message import MalformedReply, build_query, encode_name, parse_reply


def test_build_query_is_a_valid_edns_query() -> None:
    query = build_query(
        encode_name("www.Example.com"), wire.AAAA, 0x1234, wire.ecs_option_wire("49.36.0.0/24")
    )
    message = dns.message.from_wire(query)
    assert message.id == 0x1234
    assert str(message.question[0].name) == "www.Example.com."
    assert message.question[0].rdtype == wire.AAAA
    assert message.edns == 0 and message.payload == 1232
    (ecs,) = message.options
    assert isinstance(ecs, dns.edns.ECSOption)
    assert (ecs.address, ecs.srclen) == ("49.36.0.0", 24)


def test_ecs_option_for_ipv6_truncates_the_address() -> None:
    option = wire.ecs_option_wire("2405:200::/29")
    assert option[4:8] == bytes([0, 2, 29, 0])  # family 2, source /29, scope 0
    assert len(option) == 8 + 4  # 29 bits -> 4 address octets


def _reply(
    lines: list[str], qname: str = "a.example.", rdtype: str = "A", **kwargs: object
) -> bytes:
    query = dns.message.make_query(qname, rdtype, use_edns=0)
    response = dns.message.make_response(query)
    for line in lines:
        response.answer.append(dns.rrset.from_text(*line.split(maxsplit=4)))
    if "rcode" in kwargs:
        response.set_rcode(kwargs["rcode"])  # type: ignore[arg-type]
    if "options" in kwargs:
        response.use_edns(0, options=kwargs["options"])  # type: ignore[arg-type]
    return response.to_wire()


def test_parse_reply_reads_chain_with_compression() -> None:
    data = _reply(
        [
            "a.example. 60 IN CNAME b.Example.net.",
            "b.example.net. 30 IN A 192.0.2.1",
            "b.example.net. 30 IN A 192.0.2.2",
        ]
    )
    reply = parse_reply(data)
    assert (reply.qname, reply.qtype, reply.rcode) == ("a.example", wire.A, 0)
    assert [(r.owner, r.rtype, r.ttl, r.value) for r in reply.answers] == [
        ("a.example", wire.CNAME, 60, "b.example.net"),
        ("b.example.net", wire.A, 30, "192.0.2.1"),
        ("b.example.net", wire.A, 30, "192.0.2.2"),
    ]


def test_parse_reply_reads_aaaa_and_https_hints() -> None:
    data = _reply(
        [
            "a.example. 300 IN AAAA 2001:db8::1",
            'a.example. 300 IN HTTPS 1 . alpn="h2" ipv4hint="192.0.2.9" ipv6hint="2001:db8::9"',
        ],
        rdtype="HTTPS",
    )
    reply = parse_reply(data)
    aaaa, https = reply.answers
    assert aaaa.value == "2001:db8::1"
    assert https.rtype == wire.HTTPS
    assert https.hints == (("192.0.2.9", "HTTPS-ipv4hint"), ("2001:db8::9", "HTTPS-ipv6hint"))


def test_parse_reply_reads_ecs_scope_and_extended_rcode() -> None:
    ecs = dns.edns.ECSOption("49.36.0.0", 24, 16)
    assert parse_reply(_reply([], options=[ecs])).ecs_scope == 16
    assert parse_reply(_reply([])).ecs_scope is None
    assert parse_reply(_reply([], rcode=dns.rcode.BADVERS)).rcode == dns.rcode.BADVERS
    assert parse_reply(_reply([], rcode=dns.rcode.NXDOMAIN)).rcode == dns.rcode.NXDOMAIN


def test_escaped_labels_round_trip() -> None:
    data = _reply(["a.example. 60 IN CNAME we\\.ird\\032name.example."])
    (record,) = parse_reply(data).answers
    assert record.value == "we\\.ird\\032name.example"
    assert encode_name(record.value) == dns.name.from_text("we\\.ird\\032name.example.").to_wire()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x00\x01\x80", "shorter than a DNS header"),
        (b"\x00\x01\x00\x00" + b"\x00" * 8, "not a reply"),
        # question name is a pointer to itself
        (
            b"\x00\x01\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",
            "pointer loop",
        ),
        # one answer announced, none present
        (b"\x00\x01\x81\x80\x00\x00\x00\x01\x00\x00\x00\x00", "past the end"),
    ],
)
def test_malformed_replies_are_rejected(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedReply, match=problem):
        parse_reply(data)


def test_record_data_past_the_end_is_rejected() -> None:
    data = bytearray(_reply(["a.example. 60 IN A 192.0.2.1"]))
    with pytest.raises(MalformedReply):
        parse_reply(bytes(data[:-2]))
