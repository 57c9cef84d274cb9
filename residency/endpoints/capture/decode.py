"""Link layer -> IP -> TCP/UDP, by slicing headers (fast; no per-layer objects)."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

# Link types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_OLD = (12, 14)  # DLT_RAW on some BSDs/OpenBSD
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

LINKTYPE_NAMES = {
    LINKTYPE_NULL: "BSD loopback (null)",
    LINKTYPE_ETHERNET: "Ethernet",
    12: "raw IP",
    14: "raw IP",
    LINKTYPE_RAW: "raw IP",
    LINKTYPE_LOOP: "OpenBSD loopback",
    LINKTYPE_LINUX_SLL: "Linux cooked (SLL)",
    LINKTYPE_IPV4: "raw IPv4",
    LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2 (SLL2)",
}
SUPPORTED_LINKTYPES = frozenset(LINKTYPE_NAMES)

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
_VLAN = (0x8100, 0x88A8, 0x9100)
_AF_INET6 = (10, 24, 28, 30)  # Linux, BSDs, FreeBSD, macOS
# On "any", Linux records each loopback packet twice (sent, then received): keep one.
_ARPHRD_LOOPBACK = (772).to_bytes(2, "big")
_LOOPBACK_COPY = "loopback copy (seen twice on 'any')"
TCP = 6
UDP = 17

FLAG_FIN = 0x01
FLAG_SYN = 0x02
FLAG_RST = 0x04
FLAG_ACK = 0x10


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment or UDP datagram, addresses as text."""

    src: str
    dst: str
    proto: int  # TCP or UDP
    sport: int
    dport: int
    payload: bytes
    seq: int = 0
    flags: int = 0


class Skip(Exception):
    """Not a TCP/UDP packet we read; ``args[0]`` says why, for the tally."""


def network_payload(linktype: int, frame: bytes) -> tuple[int, bytes]:
    """(IP version, IP packet) from a link-layer frame; Skip otherwise."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            raise Skip("short frame")
        ethertype = int.from_bytes(frame[12:14], "big")
        pos = 14
        while ethertype in _VLAN and len(frame) >= pos + 4:
            ethertype = int.from_bytes(frame[pos + 2 : pos + 4], "big")
            pos += 4
        return _by_ethertype(ethertype, frame[pos:])
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            raise Skip("short frame")
        if frame[0:2] == b"\x00\x04" and frame[2:4] == _ARPHRD_LOOPBACK:
            raise Skip(_LOOPBACK_COPY)
        return _by_ethertype(int.from_bytes(frame[14:16], "big"), frame[16:])
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            raise Skip("short frame")
        if frame[10] == 4 and frame[8:10] == _ARPHRD_LOOPBACK:
            raise Skip(_LOOPBACK_COPY)
        return _by_ethertype(int.from_bytes(frame[0:2], "big"), frame[20:])
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, *LINKTYPE_RAW_OLD):
        if not frame:
            raise Skip("short frame")
        return frame[0] >> 4, frame
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            raise Skip("short frame")
        if linktype == LINKTYPE_LOOP:
            family = int.from_bytes(frame[:4], "big")
        else:  # host byte order of the machine that captured: try both
            family = int.from_bytes(frame[:4], "little")
            if family > 0xFFFF:
                family = int.from_bytes(frame[:4], "big")
        if family == 2:
            return 4, frame[4:]
        if family in _AF_INET6:
            return 6, frame[4:]
        raise Skip("not IP")
    raise Skip("unknown link type")


def _by_ethertype(ethertype: int, packet: bytes) -> tuple[int, bytes]:
    if ethertype == ETH_IPV4:
        return 4, packet
    if ethertype == ETH_IPV6:
        return 6, packet
    raise Skip("not IP")


_TEXT: dict[bytes, str] = {}
_TCP_HEAD = struct.Struct("!HHI")
_UDP_HEAD = struct.Struct("!HHH")


def _text(packed: bytes) -> str:
    """Address text, cached: a capture talks to few addresses, over and over."""
    text = _TEXT.get(packed)
    if text is None:
        if len(_TEXT) >= 65536:
            _TEXT.clear()
        family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
        text = _TEXT[packed] = socket.inet_ntop(family, packed)
    return text


def decode(linktype: int, frame: bytes) -> Segment:
    """The TCP/UDP segment in a frame; Skip with a reason for anything else."""
    version, packet = network_payload(linktype, frame)
    if version == 4:
        if len(packet) < 20:
            raise Skip("short IP header")
        ihl = (packet[0] & 0x0F) * 4
        total = packet[2] << 8 | packet[3]
        if ihl <= total < len(packet):
            packet = packet[:total]  # drop Ethernet padding
        if packet[6] & 0x3F or packet[7]:  # fragment offset or more-fragments
            raise Skip("IP fragment")
        proto = packet[9]
        src = _text(packet[12:16])
        dst = _text(packet[16:20])
        body = packet[ihl:]
    elif version == 6:
        if len(packet) < 40:
            raise Skip("short IP header")
        length = int.from_bytes(packet[4:6], "big")
        proto = packet[6]
        src = _text(packet[8:24])
        dst = _text(packet[24:40])
        body = packet[40 : 40 + length] if length else packet[40:]
        while proto in (0, 43, 44, 51, 60):
            if len(body) < 8:
                raise Skip("short IPv6 extension header")
            if proto == 44:
                if int.from_bytes(body[2:4], "big") & 0xFFF9:
                    raise Skip("IP fragment")
                size = 8
            elif proto == 51:
                size = (body[1] + 2) * 4
            else:
                size = (body[1] + 1) * 8
            proto = body[0]
            body = body[size:]
    else:
        raise Skip("not IP")
    if proto == TCP:
        if len(body) < 20:
            raise Skip("short TCP header")
        sport, dport, seq = _TCP_HEAD.unpack_from(body)
        offset = (body[12] >> 4) * 4
        return Segment(src, dst, TCP, sport, dport, body[offset:], seq, body[13])
    if proto == UDP:
        if len(body) < 8:
            raise Skip("short UDP header")
        sport, dport, length = _UDP_HEAD.unpack_from(body)
        end = length if 8 <= length <= len(body) else len(body)
        return Segment(src, dst, UDP, sport, dport, body[8:end])
    raise Skip("not TCP or UDP")
