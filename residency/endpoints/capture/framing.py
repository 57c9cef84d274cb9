"""Streaming pcap and pcapng framing: (time, link type, bytes) per packet, bounded memory.

dpkt's readers assume one interface per pcapng file and stop without a word on
a cut-off file; this reader keeps every interface's link type and time
resolution and says where and why it stopped.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from residency.endpoints.errors import InputUnreadable

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
MAX_PACKET = 262144 * 4  # larger than any snap length a capture tool writes
MAX_BLOCK = 16 * 1024 * 1024
CUSTOM_BLOCKS = (0x00000BAD, 0x40000BAD)  # pcapng custom blocks (copiable or not)
DECRYPTION_SECRETS = 0x0000000A
TLS_KEY_LOG = 0x544C534B  # "TLSK": NSS key log lines
PCAPDROID_PEN = 62652  # PCAPdroid's private enterprise number in its custom blocks
PCAPDROID_UID_MAP = 1


def is_capture(head: bytes) -> bool:
    return head[:4] in PCAP_MAGICS or head[:4] == PCAPNG_MAGIC


@dataclass
class FramingReport:
    """What the framing layer could not read; filled while iterating."""

    packets: int = 0
    stopped: str = ""  # "truncated at byte N (...)", "corrupt block at byte N", or ""
    notes: list[str] = field(default_factory=list)
    # pcapng extensions, read as they come: the comment of the packet just yielded
    # (PCAPdroid writes "u-<uid>"), PCAPdroid's UID -> (package, app name) blocks, what
    # was wrong with such blocks, and TLS key log lines in Decryption Secrets Blocks.
    packet_comment: str | None = None
    uid_names: dict[int, tuple[str, str]] = field(default_factory=dict)
    block_problems: list[str] = field(default_factory=list)
    key_log_lines: int = 0


def frames(
    stream: BinaryIO, origin: str, report: FramingReport
) -> Iterator[tuple[float, int, bytes]]:
    """Yield ``(timestamp, linktype, packet bytes)``; ``InputUnreadable`` if not a capture."""
    head = stream.read(4)
    if head in PCAP_MAGICS:
        yield from _pcap(stream, head, origin, report)
    elif head == PCAPNG_MAGIC:
        yield from _pcapng(stream, origin, report)
    else:
        raise InputUnreadable(
            f"{origin}: not a pcap or pcapng capture (magic {head.hex() or 'empty'})"
        )


def _pcap(
    stream: BinaryIO, magic: bytes, origin: str, report: FramingReport
) -> Iterator[tuple[float, int, bytes]]:
    order, unit = PCAP_MAGICS[magic]
    rest = stream.read(20)
    if len(rest) < 20:
        raise InputUnreadable(
            f"{origin}: pcap file header is cut short ({4 + len(rest)} of 24 bytes)"
        )
    _snaplen, network = struct.unpack(order + "II", rest[12:20])
    linktype = network & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    offset = 24
    read = stream.read
    while True:
        header = read(16)
        if len(header) < 16:
            if header:
                report.stopped = f"truncated at byte {offset}: a packet header is cut short"
            return
        sec, frac, caplen, _origlen = record.unpack(header)
        if caplen > MAX_PACKET:
            report.stopped = (
                f"corrupt packet record at byte {offset} (claims {caplen} bytes); "
                "rest of file skipped"
            )
            return
        data = read(caplen)
        if len(data) < caplen:
            report.stopped = (
                f"truncated at byte {offset}: last packet has {len(data)} of {caplen} bytes"
            )
            return
        offset += 16 + caplen
        report.packets += 1
        yield sec + frac * unit, linktype, data


@dataclass
class _Interface:
    linktype: int
    snaplen: int
    unit: float


def _tsresol(options: bytes, order: str) -> float:
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack(order + "HH", options[pos : pos + 4])
        if code == 0:
            break
        value = options[pos + 4 : pos + 4 + length]
        if code == 9 and value:
            raw = value[0]
            return 2.0 ** -(raw & 0x7F) if raw & 0x80 else 10.0**-raw
        pos += 4 + length + (-length % 4)
    return 1e-6


def _pcapng(
    stream: BinaryIO, origin: str, report: FramingReport
) -> Iterator[tuple[float, int, bytes]]:
    offset = 0
    order = "<"
    interfaces: list[_Interface] = []
    block_type = 0x0A0D0D0A
    first = True
    read = stream.read
    while True:
        header = PCAPNG_MAGIC + read(4) if first else read(8)
        if len(header) < 8:
            if first:
                raise InputUnreadable(f"{origin}: pcapng file is cut short")
            if header:
                report.stopped = f"truncated at byte {offset}: a block header is cut short"
            return
        if header[:4] == PCAPNG_MAGIC:
            # A section header fixes the byte order for everything up to the next one.
            bom = read(4)
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                if first:
                    raise InputUnreadable(
                        f"{origin}: pcapng section header has no byte-order magic"
                    )
                report.stopped = f"corrupt section header at byte {offset}; rest of file skipped"
                return
            (length,) = struct.unpack(order + "I", header[4:8])
            body_start = bom
            block_type = 0x0A0D0D0A
            interfaces = []
        else:
            block_type, length = struct.unpack(order + "II", header)
            body_start = b""
        first = False
        if length < 12 or length % 4 or length > MAX_BLOCK:
            report.stopped = (
                f"corrupt block at byte {offset} (length {length}); rest of file skipped"
            )
            return
        body = body_start + read(length - 8 - len(body_start))
        if len(body) < length - 8:
            report.stopped = (
                f"truncated at byte {offset}: last block has {len(body) + 8} of {length} bytes"
            )
            return
        (trailer,) = struct.unpack(order + "I", body[-4:])
        if trailer != length:
            report.stopped = (
                f"corrupt block at byte {offset} (lengths differ); rest of file skipped"
            )
            return
        offset += length
        body = body[:-4]
        if block_type == 1 and len(body) >= 8:  # interface description
            linktype, _reserved, snaplen = struct.unpack(order + "HHI", body[:8])
            interfaces.append(_Interface(linktype, snaplen, _tsresol(body[8:], order)))
        elif block_type == 6 and len(body) >= 20:  # enhanced packet
            iface, high, low, caplen, _orig = struct.unpack(order + "IIIII", body[:20])
            if iface >= len(interfaces):
                report.notes.append(
                    f"packet at byte {offset - length} names unknown interface {iface}"
                )
                continue
            info = interfaces[iface]
            report.packets += 1
            options_at = 20 + caplen + (-caplen % 4)
            report.packet_comment = (
                _comment(body[options_at:], order) if len(body) > options_at else None
            )
            yield ((high << 32) | low) * info.unit, info.linktype, body[20 : 20 + caplen]
        elif block_type in CUSTOM_BLOCKS and len(body) >= 4:
            _custom_block(body, order, offset - length, report)
        elif block_type == DECRYPTION_SECRETS and len(body) >= 8:
            kind, size = struct.unpack(order + "II", body[:8])
            if size > len(body) - 8:
                report.block_problems.append(
                    f"decryption secrets block at byte {offset - length} claims {size} bytes "
                    f"of secrets but holds {len(body) - 8}; ignored"
                )
            elif kind == TLS_KEY_LOG:
                report.key_log_lines += body[8 : 8 + size].count(b"\n")
        elif block_type == 3 and len(body) >= 4 and interfaces:  # simple packet
            (orig,) = struct.unpack(order + "I", body[:4])
            info = interfaces[0]
            caplen = min(orig, info.snaplen or orig, len(body) - 4)
            report.packets += 1
            report.packet_comment = None
            yield 0.0, info.linktype, body[4 : 4 + caplen]
        elif block_type == 2 and len(body) >= 20:  # obsolete packet block
            iface, _drops, high, low, caplen, _orig = struct.unpack(order + "HHIIII", body[:20])
            if iface < len(interfaces):
                info = interfaces[iface]
                report.packets += 1
                report.packet_comment = None
                yield ((high << 32) | low) * info.unit, info.linktype, body[20 : 20 + caplen]


def _comment(options: bytes, order: str) -> str | None:
    """The first ``opt_comment`` (code 1) of a block's options, if any."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack(order + "HH", options[pos : pos + 4])
        if code == 0:
            return None
        if code == 1:
            return options[pos + 4 : pos + 4 + length].decode("utf-8", "replace")
        pos += 4 + length + (-length % 4)
    return None


def _custom_block(body: bytes, order: str, at: int, report: FramingReport) -> None:
    """PCAPdroid's UID mapping block: PEN, version (u16), type (u8), a pad byte, then the
    UID (i32), the package and app name lengths (u8 each) and the two names."""
    (pen,) = struct.unpack(order + "I", body[:4])
    if pen != PCAPDROID_PEN:
        return
    data = body[4:]
    if len(data) < 10:
        report.block_problems.append(f"PCAPdroid block at byte {at} is cut short; ignored")
        return
    version, kind = struct.unpack(order + "HB", data[:3])
    if version != 1 or kind != PCAPDROID_UID_MAP:
        report.block_problems.append(
            f"PCAPdroid block at byte {at}: version {version} type {kind} not read"
        )
        return
    (uid,) = struct.unpack(order + "i", data[4:8])
    package_length, name_length = data[8], data[9]
    if 10 + package_length + name_length > len(data):
        report.block_problems.append(
            f"PCAPdroid UID block at byte {at}: names of {package_length}+{name_length} bytes "
            f"overrun the block ({len(data) - 10} bytes); ignored"
        )
        return
    package = data[10 : 10 + package_length].decode("utf-8", "replace")
    name = data[10 + package_length : 10 + package_length + name_length].decode("utf-8", "replace")
    if len(report.uid_names) < 65536:
        report.uid_names[uid] = (package, name)
