"""Capture reader on real recorded traffic: link types, cut-short and corrupt files."""

from __future__ import annotations

import struct
from pathlib import Path

import dpkt
import pytest

from residency.endpoints import InputUnreadable, ReadOptions, read_input
from residency.endpoints.capture.decode import (
    LINKTYPE_IPV4,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
)
from residency.endpoints.interface import Targets
from tests.support import FIXTURES

PCAP = FIXTURES / "endpoints" / "loopback.pcap"
PCAPNG = FIXTURES / "endpoints" / "loopback.pcapng"

EXPECTED = {
    "tls.capture.test": {("127.0.0.2", "DNS answer A"), ("127.0.0.2", "TLS SNI")},
    "other.example": {("127.0.0.2", "TLS SNI")},
    "alias.capture.test": {("127.0.0.3", "DNS answer A via web.capture.test")},
    "web.capture.test": {("127.0.0.3", "DNS answer A"), ("127.0.0.3", "HTTP Host")},
    "v6.capture.test": {("::1", "DNS answer AAAA")},
    "plain.capture.test": {
        ("127.0.0.5", "DNS answer A"),
        ("127.0.0.5", "connection named by DNS answer"),
    },
    "127.0.0.4": {("127.0.0.4", "connection with no name (no DNS answer, SNI or Host)")},
    "127.0.0.1": {("127.0.0.1", "DNS queries sent to it")},
}


def summary(targets: Targets) -> dict[str, set[tuple[str, str]]]:
    return {
        e.host: {(o.ip, o.context.removeprefix("pcap ").split(":", 1)[0]) for o in e.observed}
        for e in targets.endpoints
    }


@pytest.mark.parametrize("path", [PCAP, PCAPNG], ids=["pcap", "pcapng"])
def test_recorded_loopback_capture(path: Path) -> None:
    targets = read_input(path)
    assert summary(targets) == EXPECTED
    assert targets.problems == () and targets.notes == ()


def _reframe(tmp_path: Path, linktype: int, header: bytes) -> Path:
    """The same real packets with their Ethernet header swapped for another link layer."""
    out = tmp_path / f"link{linktype}.pcap"
    with PCAP.open("rb") as source, out.open("wb") as sink:
        writer = dpkt.pcap.Writer(sink, linktype=linktype, snaplen=262144)
        for ts, frame in dpkt.pcap.Reader(source):
            ethertype = frame[12:14]
            prefix = header
            if linktype == LINKTYPE_NULL and ethertype == b"\x86\xdd":
                prefix = struct.pack("<I", 10)
            writer.writepkt(prefix + frame[14:], ts=ts)
    return out


@pytest.mark.parametrize(
    ("linktype", "header"),
    [
        (LINKTYPE_RAW, b""),
        (LINKTYPE_IPV4, b""),
        (LINKTYPE_NULL, struct.pack("<I", 2)),
        (LINKTYPE_LOOP, struct.pack(">I", 2)),
    ],
    ids=["raw-ip", "ipv4", "bsd-null", "openbsd-loop"],
)
def test_other_link_layers_give_the_same_answer(
    tmp_path: Path, linktype: int, header: bytes
) -> None:
    targets = read_input(_reframe(tmp_path, linktype, header))
    assert summary(targets) == EXPECTED


def test_unknown_link_type_is_one_clear_line(tmp_path: Path) -> None:
    data = bytearray(PCAP.read_bytes())
    data[20:24] = struct.pack("<I", 147)  # USER0
    path = tmp_path / "user0.pcap"
    path.write_bytes(bytes(data))
    with pytest.raises(InputUnreadable) as caught:
        read_input(path)
    assert str(caught.value) == (
        f"{path}: unknown link type 147; residency reads BSD loopback (null), Ethernet, "
        "Linux cooked (SLL), Linux cooked v2 (SLL2), OpenBSD loopback, raw IP, raw IPv4, raw IPv6"
    )


@pytest.mark.parametrize("source", [PCAP, PCAPNG], ids=["pcap", "pcapng"])
def test_cut_short_capture_reports_the_readable_part(tmp_path: Path, source: Path) -> None:
    data = source.read_bytes()
    path = tmp_path / ("cut" + source.suffix)
    path.write_bytes(data[: len(data) // 2 + 3])
    targets = read_input(path)
    assert len(targets.problems) == 1
    problem = targets.problems[0]
    assert problem.origin == str(path)
    assert problem.problem.startswith("truncated at byte ")
    assert "results are from the " in problem.problem
    found = summary(targets)
    assert set(found) < set(EXPECTED)
    assert found["tls.capture.test"] >= {("127.0.0.2", "DNS answer A")}


def test_corrupt_pcap_record_stops_with_a_note(tmp_path: Path) -> None:
    data = bytearray(PCAP.read_bytes())
    # Find the fifth record and claim an absurd length for it.
    offset = 24
    for _ in range(4):
        caplen = struct.unpack("<I", data[offset + 8 : offset + 12])[0]
        offset += 16 + caplen
    data[offset + 8 : offset + 12] = struct.pack("<I", 0x7FFFFFF0)
    path = tmp_path / "corrupt.pcap"
    path.write_bytes(bytes(data))
    targets = read_input(path)
    assert [p.problem for p in targets.problems] == [
        f"corrupt packet record at byte {offset} (claims 2147483632 bytes); "
        "rest of file skipped; results are from the 4 packets before it"
    ]


def test_corrupt_pcapng_block_stops_with_a_note(tmp_path: Path) -> None:
    data = bytearray(PCAPNG.read_bytes())
    offset = 0
    for _ in range(6):
        offset += struct.unpack("<I", data[offset + 4 : offset + 8])[0]
    data[offset + 4 : offset + 8] = struct.pack("<I", 13)
    path = tmp_path / "corrupt.pcapng"
    path.write_bytes(bytes(data))
    targets = read_input(path)
    assert len(targets.problems) == 1
    assert targets.problems[0].problem.startswith(f"corrupt block at byte {offset} (length 13)")


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(b"GIF89a....")
    with pytest.raises(InputUnreadable, match="not a pcap or pcapng capture"):
        read_input(path)


def test_pcap_header_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(PCAP.read_bytes()[:10])
    with pytest.raises(InputUnreadable, match="pcap file header is cut short"):
        read_input(path)


def test_empty_capture_has_no_endpoints(tmp_path: Path) -> None:
    path = tmp_path / "empty.pcap"
    path.write_bytes(PCAP.read_bytes()[:24])
    assert read_input(path) == Targets(endpoints=())


def test_a_tiny_flow_table_still_names_every_connection() -> None:
    targets = read_input(PCAP, options=ReadOptions(max_flows=1))
    found = summary(targets)
    assert set(found) == set(EXPECTED)
    assert ("127.0.0.2", "TLS SNI") in found["tls.capture.test"]


def test_dns_port_option_changes_what_is_read_as_dns() -> None:
    targets = read_input(PCAP, options=ReadOptions(dns_ports=(5353,)))
    hosts = {e.host for e in targets.endpoints}
    assert "v6.capture.test" not in hosts  # only known from a DNS answer
    assert {"tls.capture.test", "other.example", "web.capture.test"} <= hosts
