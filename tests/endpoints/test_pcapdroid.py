"""PCAPdroid's app attribution, built here in its documented forms from a real capture:
the pcap trailer, pcapng UID blocks with per-packet comments, and the CSV export."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import dpkt

from residency.endpoints import ReadOptions, read_input
from residency.endpoints.capture.framing import PCAPDROID_PEN
from residency.endpoints.interface import Targets
from tests.support import FIXTURES

PCAP = FIXTURES / "endpoints" / "loopback.pcap"
SHOP = (10123, "com.example.shop", "Shop")
OTHER = (10200, "org.other.app", "Other")


def _ip_packets() -> list[tuple[float, bytes]]:
    """The real loopback capture's IP packets (its Ethernet headers dropped)."""
    with PCAP.open("rb") as source:
        return [(ts, frame[14:]) for ts, frame in dpkt.pcap.Reader(source)]


def _owner(packet: bytes) -> tuple[int, str, str]:
    """The shop app talks to 127.0.0.2 (TLS); everything else is the other app."""
    version = packet[0] >> 4
    addresses = packet[12:20] if version == 4 else b""
    return SHOP if b"\x7f\x00\x00\x02" in (addresses[:4], addresses[4:]) else OTHER


def trailer(packet: bytes, uid: int, name: str) -> bytes:
    """[fake Ethernet | IP | pad to 4 | magic uid appname[20] fcs], as pcap_dump.c lays it."""
    ethertype = b"\x08\x00" if packet[0] >> 4 == 4 else b"\x86\xdd"
    frame = b"\0" * 12 + ethertype + packet
    frame += b"\0" * (-len(frame) % 4)
    frame += b"\x01\x07\x20\x21" + struct.pack(">i", uid) + name.encode()[:20].ljust(20, b"\0")
    return frame + struct.pack("<I", zlib.crc32(frame))


def write_pcap(path: Path, frame_of: Callable[[bytes], bytes]) -> Path:
    with path.open("wb") as sink:
        writer = dpkt.pcap.Writer(sink, linktype=1, snaplen=262144)
        for ts, packet in _ip_packets():
            writer.writepkt(frame_of(packet), ts=ts)
    return path


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def uid_block(uid: int, package: str, name: str, lie: int = 0) -> bytes:
    """PCAPdroid's UID mapping custom block (PEN 62652, version 1, type 1)."""
    names = package.encode() + name.encode()
    data = struct.pack("<HBBiBB", 1, 1, 0, uid, len(package.encode()) + lie, len(name.encode()))
    return _block(0x00000BAD, struct.pack("<I", PCAPDROID_PEN) + data + names)


def packet_block(ts: float, packet: bytes, comment: str | None) -> bytes:
    micros = int(ts * 1e6)
    body = struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(packet), len(packet))
    body += packet + b"\0" * (-len(packet) % 4)
    if comment is not None:
        text = comment.encode()
        body += struct.pack("<HH", 1, len(text)) + text + b"\0" * (-len(text) % 4)
        body += struct.pack("<HH", 0, 0)
    return _block(6, body)


def write_pcapng(path: Path, mapped: bool = True, lie: int = 0, secrets: bool = True) -> Path:
    blocks = [
        _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
        _block(1, struct.pack("<HHI", 101, 0, 65535)),  # LINKTYPE_RAW, as PCAPdroid writes
    ]
    if secrets:
        keys = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
        blocks.append(_block(0x0A, struct.pack("<II", 0x544C534B, len(keys * 2)) + keys * 2))
    announced: set[int] = set()
    for ts, packet in _ip_packets():
        uid, package, name = _owner(packet)
        if mapped and uid not in announced:
            blocks.append(uid_block(uid, package, name, lie if uid == SHOP[0] else 0))
            announced.add(uid)
        blocks.append(packet_block(ts, packet, f"u-{uid}"))
    path.write_bytes(b"".join(blocks))
    return path


def apps_by_host(targets: Targets) -> dict[str, set[str]]:
    return {e.host: {a for o in e.observed for a in o.apps} for e in targets.endpoints}


SHOP_LABEL = "com.example.shop (uid 10123)"


def test_pcap_trailer_names_the_app_of_every_connection(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "droid.pcap", lambda p: trailer(p, *_owner(p)[:1], _owner(p)[1]))
    apps = apps_by_host(read_input(path))
    assert apps["other.example"] == {SHOP_LABEL}
    assert SHOP_LABEL in apps["tls.capture.test"]  # its TLS connection; the DNS answer is Other's
    assert apps["web.capture.test"] == {"org.other.app (uid 10200)"}
    shop = read_input(path, options=ReadOptions(apps=("com.example.shop",)))
    assert {e.host for e in shop.endpoints} == {"tls.capture.test", "other.example"}
    assert all(o.context.startswith("pcap TLS SNI") for e in shop.endpoints for o in e.observed)
    assert any("packets of other apps left out (--app)" in n for n in shop.notes)
    by_uid = read_input(path, options=ReadOptions(apps=("10123",)))
    assert {e.host for e in by_uid.endpoints} == {"tls.capture.test", "other.example"}


def test_pcapng_uid_blocks_and_comments_name_the_package(tmp_path: Path) -> None:
    targets = read_input(write_pcapng(tmp_path / "droid.pcapng"))
    apps = apps_by_host(targets)
    assert apps["other.example"] == {SHOP_LABEL}
    assert apps["plain.capture.test"] == {"org.other.app (uid 10200)"}
    assert any("2 TLS secrets in Decryption Secrets Blocks" in n for n in targets.notes)
    assert any("packets per app" in n and SHOP_LABEL in n for n in targets.notes)


def test_a_cut_off_trailer_attributes_nothing_and_says_so(tmp_path: Path) -> None:
    def cut(packet: bytes) -> bytes:
        uid, name, _ = _owner(packet)
        return trailer(packet, uid, name)[:-10]  # a snap length cut into the trailer

    targets = read_input(write_pcap(tmp_path / "cut.pcap", cut))
    assert apps_by_host(targets)["other.example"] == set()
    assert any("cut-off PCAPdroid trailer" in n for n in targets.notes)


def test_a_trailer_with_a_wrong_checksum_is_used_and_counted(tmp_path: Path) -> None:
    def corrupt(packet: bytes) -> bytes:
        uid, name, _ = _owner(packet)
        frame = trailer(packet, uid, name)
        return frame[:-4] + b"\xde\xad\xbe\xef"

    targets = read_input(write_pcap(tmp_path / "crc.pcap", corrupt))
    assert apps_by_host(targets)["other.example"] == {SHOP_LABEL}
    assert any("fail their CRC-32" in n for n in targets.notes)


def test_a_uid_block_whose_lengths_overrun_it_is_a_problem_not_a_name(tmp_path: Path) -> None:
    targets = read_input(write_pcapng(tmp_path / "lie.pcapng", lie=200))
    assert any("overrun the block" in p.problem for p in targets.problems)
    # the packets still carry their UID; the unnamed app is kept as a UID, not guessed
    assert apps_by_host(targets)["other.example"] == {"uid 10123 (no package name in the capture)"}


def test_an_unknown_uid_is_kept_as_a_uid_and_can_be_selected(tmp_path: Path) -> None:
    path = write_pcapng(tmp_path / "unmapped.pcapng", mapped=False, secrets=False)
    targets = read_input(path, options=ReadOptions(apps=("10123",)))
    assert {e.host for e in targets.endpoints} == {"tls.capture.test", "other.example"}
    assert apps_by_host(targets)["other.example"] == {"uid 10123 (no package name in the capture)"}
    missing = read_input(path, options=ReadOptions(apps=("com.nowhere",)))
    assert [p.problem.split(" (")[0] for p in missing.problems] == [
        "--app com.nowhere: no packet of that app"
    ]


def test_app_filter_on_a_capture_without_attribution_audits_nothing(tmp_path: Path) -> None:
    targets = read_input(PCAP, options=ReadOptions(apps=("com.example.shop",)))
    assert targets.endpoints == ()
    assert "no PCAPdroid app attribution" in targets.problems[0].problem


CSV = FIXTURES / "endpoints" / "pcapdroid.csv"  # the export's documented columns


def test_pcapdroid_csv_export_names_apps_and_addresses() -> None:
    path = CSV
    targets = read_input(path)
    hosts = {e.host: e for e in targets.endpoints}
    facebook = hosts["graph.facebook.com"].observed
    assert [(o.ip, set(o.apps)) for o in facebook] == [
        ("157.240.1.35", {SHOP_LABEL, "org.other.app (uid 10200)"})
    ]
    assert hosts["api.shop.example"].observed[0].when == "2025-12-07T09:33:20Z"
    assert hosts["203.0.113.9"].is_ip
    assert [(p.entry, p.problem) for p in targets.problems] == [("abc", "UID is not a number")]
    shop = read_input(path, options=ReadOptions(apps=("com.example.shop",)))
    assert set(apps_by_host(shop)["graph.facebook.com"]) == {SHOP_LABEL}
    assert "203.0.113.9" not in {e.host for e in shop.endpoints}


def _trackers(tmp_path: Path) -> Path:
    """A small file in the data set's documented shape (trackers, packageNames, entities)."""
    import json

    path = tmp_path / "android-tds.json"
    path.write_text(
        json.dumps(
            {
                "version": 1688648647512,
                "trackers": {
                    "facebook.com": {"owner": {"name": "Facebook, Inc.", "displayName": "Facebook"}}
                },
                "packageNames": {"com.example.shop": "Example Shops Ltd"},
                "entities": {"Example Shops Ltd": {"score": 1}},
            }
        )
    )
    return path


def test_tracker_owners_are_named_as_evidence_with_the_apps(tmp_path: Path) -> None:
    from residency.endpoints.android_trackers import AndroidTrackers

    table = AndroidTrackers.load(_trackers(tmp_path))
    notes = table.notes(read_input(CSV).endpoints)
    assert notes[0].startswith(
        "graph.facebook.com: a tracker domain of Facebook (listed as facebook.com), per the "
        "DuckDuckGo Android tracker data set version 2023-07-06T13:04:07Z (CC BY-NC-SA 4.0)"
    )
    assert notes[0].endswith(f"contacted by {SHOP_LABEL}, org.other.app (uid 10200)")
    assert (
        "app com.example.shop: owned by Example Shops Ltd (listed as a tracking entity)"
        in (notes[1])
    )


def test_the_real_android_tracker_snapshot_names_facebook(tmp_path: Path) -> None:
    from residency.endpoints.android_trackers import AndroidTrackers
    from tests.support import shared

    table = AndroidTrackers.load(shared("entities", "ddg-android-tds_2025-06-17.json"))
    assert table.domain_owner("graph.facebook.com") == ("graph.facebook.com", "Facebook")
    assert table.domain_owner("example.invalid") is None


def test_a_broken_tracker_file_is_one_line(tmp_path: Path) -> None:
    import pytest

    from residency.endpoints import InputUnreadable
    from residency.endpoints.android_trackers import AndroidTrackers

    bad = tmp_path / "bad.json"
    bad.write_text('{"trackers": [1, 2]}')
    with pytest.raises(InputUnreadable, match="not DuckDuckGo's Android tracker data set"):
        AndroidTrackers.load(bad)
    with pytest.raises(InputUnreadable, match="cannot read"):
        AndroidTrackers.load(tmp_path / "missing.json")
