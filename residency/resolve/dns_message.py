"""DNS messages on the wire, for the hot path: build queries and read replies without objects.

dnspython's ``Message`` builds a Name, an RRset and an Rdata object for every record,
and spends most of a resolution's CPU doing so. A resolution needs far less: the rcode,
the flags, the question (to match the reply), the answer records of a few types and the
ECS scope. This module reads exactly that, with compression pointers followed and
checked, and hands anything rarer (HTTPS rdata) to dnspython.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import NamedTuple

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.svcbbase import ParamKey

from residency.resolve.errors import QueryFailed

A, NS, CNAME, SOA, AAAA, OPT, HTTPS = 1, 2, 5, 6, 28, 41, 65
CLASS_IN = 1
FLAG_QR = 0x8000
FLAG_TC = 0x0200
FLAG_RD = 0x0100
ECS_CODE = 8
EDNS_PAYLOAD = 1232

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QTAIL = struct.Struct("!HH")
_PLAIN_LABEL = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_*")


class MalformedReply(QueryFailed):
    """A reply that cannot be read as a DNS message."""


def encode_name(name: str) -> bytes:
    """Wire form of a host name; raises ``dns.exception.DNSException`` if it is not one."""
    wire = dns.name.from_text(name.rstrip(".") + ".").to_wire()
    assert wire is not None  # only None when writing into a file object
    return wire


def host_wire(name: str) -> tuple[str, bytes]:
    """(lower-case text without the final dot, wire form) of a host name.

    Plain ASCII names (what endpoint normalisation produces: punycode, lower case) are
    encoded directly; anything else goes through dnspython. Raises
    ``dns.exception.DNSException`` (EmptyLabel, LabelTooLong, NameTooLong...).
    """
    text = name.strip().rstrip(".").lower()
    if not text.isascii() or "\\" in text:
        parsed = dns.name.from_text(text + ".")
        wire = parsed.to_wire()
        assert wire is not None
        return parsed.to_text(omit_final_dot=True).lower(), wire.lower()
    if not text:
        raise dns.name.EmptyLabel
    parts = []
    for label in text.split("."):
        size = len(label)
        if size == 0:
            raise dns.name.EmptyLabel
        if size > 63:
            raise dns.name.LabelTooLong
        parts.append(bytes((size,)) + label.encode("ascii"))
    wire = b"".join(parts) + b"\x00"
    if len(wire) > 255:
        raise dns.name.NameTooLong
    return text, wire


def ecs_option_wire(prefix: str) -> bytes:
    """An EDNS Client Subnet option (RFC 7871) for ``prefix``, e.g. ``49.36.0.0/24``."""
    network = ipaddress.ip_network(prefix, strict=False)
    family = 1 if network.version == 4 else 2
    length = network.prefixlen
    address = network.network_address.packed[: (length + 7) // 8]
    body = struct.pack("!HBB", family, length, 0) + address
    return struct.pack("!HH", ECS_CODE, len(body)) + body


def build_query(qname_wire: bytes, rdtype: int, qid: int = 0, options: bytes = b"") -> bytes:
    """A recursion-desired query with EDNS0 (1232-byte payload) and the given options."""
    return (
        _HEADER.pack(qid, FLAG_RD, 1, 0, 0, 1)
        + qname_wire
        + _QTAIL.pack(rdtype, CLASS_IN)
        + b"\x00"
        + _RR.pack(OPT, EDNS_PAYLOAD, 0, len(options))
        + options
    )


class Record(NamedTuple):
    """One answer record: ``value`` is an address, a target name, or HTTPS text."""

    owner: str
    rtype: int
    ttl: int
    value: str
    hints: tuple[tuple[str, str], ...] = ()  # HTTPS only: (address, "HTTPS-ipv4hint"|...)


class Reply(NamedTuple):
    qid: int
    flags: int
    rcode: int  # with the EDNS extended bits
    qname: str
    qtype: int
    answers: tuple[Record, ...]
    ecs_scope: int | None
    soa_owners: tuple[str, ...] = ()  # SOA records in the authority section (negative answers)
    referral: tuple[str, ...] = ()  # NS targets in the authority section (a delegation)
    referral_zone: str = ""  # the owner of those NS records

    @property
    def truncated(self) -> bool:
        return bool(self.flags & FLAG_TC)


def read_name(wire: bytes, offset: int, seen: dict[int, str] | None = None) -> tuple[str, int]:
    """The name at ``offset`` (lower case, no final dot) and the offset after it.

    ``seen`` maps offsets of names (and name suffixes) already read in this message to
    their text, so a compression pointer to one costs a dictionary lookup.
    """
    labels: list[str] = []
    starts: list[int] = []
    end = -1
    jumps = 0
    length_total = 0
    size = len(wire)
    tail = ""
    while True:
        if offset >= size:
            raise MalformedReply("name runs past the end of the reply")
        length = wire[offset]
        if length == 0:
            offset += 1
            break
        if length & 0xC0 == 0xC0:
            if offset + 1 >= size:
                raise MalformedReply("truncated compression pointer")
            if end < 0:
                end = offset + 2
            jumps += 1
            if jumps > 64:
                raise MalformedReply("compression pointer loop")
            offset = ((length & 0x3F) << 8) | wire[offset + 1]
            if seen is not None and offset in seen:
                tail = seen[offset]
                break
            continue
        if length & 0xC0:
            raise MalformedReply("unknown label type")
        label = wire[offset + 1 : offset + 1 + length].lower()
        if len(label) != length:
            raise MalformedReply("label runs past the end of the reply")
        length_total += length + 1
        if length_total > 255:
            raise MalformedReply("name longer than 255 octets")
        if _PLAIN_LABEL.issuperset(label):
            labels.append(label.decode("ascii"))
        else:
            labels.append(dns.name.Name([label]).to_text(omit_final_dot=True))
        starts.append(offset)
        offset += 1 + length
    if tail:
        labels.append(tail)
    name = ".".join(labels)
    if seen is not None and starts:
        # Remember every suffix that starts at a label of this name.
        for index, start in enumerate(starts):
            if start not in seen:
                seen[start] = name if index == 0 else ".".join(labels[index:])
    return name, (end if end >= 0 else offset)


def _skip_name(wire: bytes, offset: int) -> int:
    """The offset after the (possibly compressed) name at ``offset``, without reading it."""
    while True:
        length = wire[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length & 0xC0:
            raise MalformedReply("unknown label type")
        offset += 1 + length


def parse_reply(wire: bytes) -> Reply:
    """Read a reply's header, question, answer records and EDNS (rcode bits, ECS scope)."""
    if len(wire) < _HEADER.size:
        raise MalformedReply("reply shorter than a DNS header")
    qid, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire, 0)
    if not flags & FLAG_QR:
        raise MalformedReply("not a reply (QR bit clear)")
    offset = _HEADER.size
    qname, qtype = "", 0
    seen: dict[int, str] = {}
    soa_owners: list[str] = []
    referral: list[str] = []
    referral_zone = ""
    try:
        for index in range(qdcount):
            name, offset = read_name(wire, offset, seen)
            rtype, _ = _QTAIL.unpack_from(wire, offset)
            offset += _QTAIL.size
            if index == 0:
                qname, qtype = name, rtype
        answers: list[Record] = []
        rcode = flags & 0x000F
        ecs_scope: int | None = None
        for index in range(ancount + nscount + arcount):
            first = wire[offset]
            if index >= ancount:  # authority and additional: only SOA and OPT matter
                owner_at = offset
                owner, offset = "", _skip_name(wire, offset)
            elif first == 0:
                owner, offset = "", offset + 1
            elif first & 0xC0 == 0xC0 and (((first & 0x3F) << 8) | wire[offset + 1]) in seen:
                owner, offset = seen[((first & 0x3F) << 8) | wire[offset + 1]], offset + 2
            else:
                owner, offset = read_name(wire, offset, seen)
            rtype, rclass, ttl, rdlength = _RR.unpack_from(wire, offset)
            offset += _RR.size
            rdata_end = offset + rdlength
            if rdata_end > len(wire):
                raise MalformedReply("record data runs past the end of the reply")
            if index < ancount:
                if rclass == CLASS_IN:
                    record = _answer(wire, owner, rtype, ttl, offset, rdlength, seen)
                    if record is not None:
                        answers.append(record)
            elif rtype == SOA and index < ancount + nscount:
                soa_owners.append(read_name(wire, owner_at, seen)[0])
            elif rtype == NS and index >= ancount and index < ancount + nscount:
                referral.append(read_name(wire, offset, seen)[0])
                referral_zone = read_name(wire, owner_at, seen)[0]
            elif rtype == OPT and index >= ancount + nscount:
                rcode |= (ttl >> 24) << 4
                ecs_scope = _ecs_scope(wire, offset, rdata_end)
            offset = rdata_end
    except (struct.error, IndexError):
        raise MalformedReply("record runs past the end of the reply") from None
    return Reply(
        qid,
        flags,
        rcode,
        qname,
        qtype,
        tuple(answers),
        ecs_scope,
        tuple(soa_owners),
        tuple(referral),
        referral_zone,
    )


def _answer(
    wire: bytes, owner: str, rtype: int, ttl: int, offset: int, rdlength: int, seen: dict[int, str]
) -> Record | None:
    if rtype == A and rdlength == 4:
        return Record(owner, A, ttl, socket.inet_ntop(socket.AF_INET, wire[offset : offset + 4]))
    if rtype == AAAA and rdlength == 16:
        return Record(
            owner, AAAA, ttl, socket.inet_ntop(socket.AF_INET6, wire[offset : offset + 16])
        )
    if rtype == CNAME:
        target, _ = read_name(wire, offset, seen)
        return Record(owner, CNAME, ttl, target)
    if rtype == HTTPS:
        try:
            rdata = dns.rdata.from_wire(
                dns.rdataclass.IN, dns.rdatatype.HTTPS, wire, offset, rdlength
            )
        except dns.exception.DNSException as err:
            raise MalformedReply(f"unreadable HTTPS record ({err})") from None
        hints: list[tuple[str, str]] = []
        for key, via in (
            (ParamKey.IPV4HINT, "HTTPS-ipv4hint"),
            (ParamKey.IPV6HINT, "HTTPS-ipv6hint"),
        ):
            param = rdata.params.get(key)  # type: ignore[attr-defined]
            if param is not None:
                hints.extend((str(address), via) for address in param.addresses)
        return Record(owner, HTTPS, ttl, rdata.to_text(), tuple(hints))
    return None


def _ecs_scope(wire: bytes, offset: int, end: int) -> int | None:
    while offset + 4 <= end:
        code, length = struct.unpack_from("!HH", wire, offset)
        offset += 4
        if code == ECS_CODE and length >= 4:
            return int(wire[offset + 3])
        offset += length
    return None
