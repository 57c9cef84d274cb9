"""Benchmark: reading a large capture of DNS responses and TLS handshakes.

The capture is generated from real traffic: the DNS exchange and the TLS handshake
that tcpdump recorded in ``tests/fixtures/endpoints/loopback.pcap`` (a query and
response from Knot, a connection to ``openssl s_server`` with SNI) are replicated
with dpkt's writer, each copy with its own DNS id, ports, name (same length, so
every length field stays right), answer address and SNI, and a fresh IPv4 header
checksum. TCP checksums are left as recorded; neither reader checks them.

Prints, side by side and measured in the same run, on the same file:
- ``residency``: ``read_input(capture)``, packets/s and peak RSS of a child process;
- ``tshark -T fields -e dns.qry.name -e tls.handshake.extensions_server_name``;
- the names each found, which must agree;
- peak memory of residency at two capture sizes with a fixed set of names, to
  show that memory does not grow with the capture (only with what it finds).

    .venv/bin/python bench/pcap.py [--items 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dpkt

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "tests" / "fixtures" / "endpoints" / "loopback.pcap"
OLD_NAME = b"tls.capture.test"
OLD_WIRE = b"\x03tls\x07capture\x04test"
OLD_ANSWER = bytes([127, 0, 0, 2])


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _templates() -> tuple[list[bytes], list[tuple[bytes, bool]]]:
    """The recorded DNS query+response and TLS handshake frames (Ethernet, IPv4)."""
    with TEMPLATE.open("rb") as handle:
        frames = [bytes(buf) for _, buf in dpkt.pcap.Reader(handle)]
    dns = [f for f in frames[:8] if OLD_WIRE in f][:2]
    tls_port = None
    for frame in frames:
        if OLD_NAME in frame and frame[47] & 0x08:  # the ClientHello (PSH)
            tls_port = struct.unpack("!H", frame[34:36])[0]
            break
    assert len(dns) == 2 and tls_port is not None, "template capture changed"
    flow = [f for f in frames if tls_port in struct.unpack("!HH", f[34:38])]
    # SYN, SYN-ACK, ACK, ClientHello, ACK, ServerHello..., and the closing RST.
    handshake = [*flow[:6], flow[-1]]
    return dns, [(f, struct.unpack("!H", f[34:36])[0] == tls_port) for f in handshake]


def _rewrite(
    frame: bytes, client_port: int, server: bytes, server_port: int | None, forward: bool
) -> bytearray:
    out = bytearray(frame)
    if forward:
        out[30:34] = server
        out[34:36] = struct.pack("!H", client_port)
        if server_port is not None:
            out[36:38] = struct.pack("!H", server_port)
    else:
        out[26:30] = server
        out[36:38] = struct.pack("!H", client_port)
        if server_port is not None:
            out[34:36] = struct.pack("!H", server_port)
    out[24:26] = b"\x00\x00"
    out[24:26] = struct.pack("!H", _checksum(bytes(out[14:34])))
    return out


def generate(path: Path, items: int, distinct: int | None = None) -> int:
    """Write ``items`` copies, half DNS exchanges and half TLS handshakes; return packets."""
    dns, handshake = _templates()
    packets = 0
    t = 1_700_000_000.0
    with path.open("wb") as handle:
        writer = dpkt.pcap.Writer(handle, snaplen=262144, linktype=dpkt.pcap.DLT_EN10MB)
        for i in range(items // 2):
            n = i if distinct is None else i % distinct
            name = f"d{n:07d}.example".encode()
            wire = b"\x08" + name[:8] + b"\x07example"
            server = bytes([10, (n >> 16) & 255, (n >> 8) & 255, n & 255])
            port = 1024 + i % 60000
            for index, frame in enumerate(dns):
                out = _rewrite(frame, port, b"\x7f\x00\x00\x01", None, index == 0)
                out[42:44] = struct.pack("!H", i & 0xFFFF)  # DNS id
                at = out.find(OLD_WIRE)
                out[at : at + len(OLD_WIRE)] = wire
                if index == 1:
                    at = out.rfind(OLD_ANSWER)
                    out[at : at + 4] = server
                out[40:42] = b"\x00\x00"  # UDP checksum: optional over IPv4
                writer.writepkt(bytes(out), ts=t)
                t += 0.00001
                packets += 1
            for frame, forward in handshake:
                out = _rewrite(frame, port, server, 443, forward)
                at = out.find(OLD_NAME)
                if at >= 0:
                    out[at : at + len(OLD_NAME)] = name
                writer.writepkt(bytes(out), ts=t)
                t += 0.00001
                packets += 1
    return packets


_CHILD = """
import json, resource, sys, time
from residency.endpoints import read_input
start = time.perf_counter()
targets = read_input(sys.argv[1])
seconds = time.perf_counter() - start
names = sorted(e.host for e in targets.endpoints if not e.is_ip)
print(json.dumps({"seconds": seconds, "names": names, "problems": len(targets.problems),
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""
_BASELINE = """
import json, resource
import residency.endpoints
print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def run_child(args: list[str]) -> tuple[str, float, float, int]:
    """Run a command; (stdout, wall s, CPU s, peak RSS in kB) of that child alone."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode()
    if proc.returncode:
        raise SystemExit(f"{args[0]} failed with status {proc.returncode}")
    return text, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def residency_run(path: Path) -> dict[str, object]:
    text, _, cpu, rss = run_child([sys.executable, "-c", _CHILD, str(path)])
    result: dict[str, object] = json.loads(text)
    result["rss_kb"] = rss
    result["cpu"] = cpu
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="DNS responses + handshakes")
    parser.add_argument("--keep", type=Path, help="keep the generated captures in this folder")
    options = parser.parse_args()
    tshark = shutil.which("tshark")
    folder = Path(tempfile.mkdtemp(prefix="bench-pcap-"))
    try:
        capture = folder / "bench.pcap"
        packets = generate(capture, options.items)
        size = capture.stat().st_size / 1e6
        print(
            f"capture: {options.items // 2:,} DNS responses (with their queries) + "
            f"{options.items // 2:,} TLS handshakes = {packets:,} packets, {size:.1f} MB"
        )

        baseline = run_child([sys.executable, "-c", _BASELINE])[3]
        ours = residency_run(capture)
        seconds = float(ours["seconds"])  # type: ignore[arg-type]
        our_names = set(ours["names"])  # type: ignore[call-overload]
        rows = [
            (
                "residency read_input",
                seconds,
                float(ours["cpu"]),
                int(ours["rss_kb"]),
                len(our_names),
            )  # type: ignore[arg-type, call-overload]
        ]

        if tshark:
            command = [
                tshark,
                "-r",
                str(capture),
                "-T",
                "fields",
                "-e",
                "dns.qry.name",
                "-e",
                "tls.handshake.extensions_server_name",
            ]
            text, wall, cpu, rss = run_child(command)
            their_names = {
                field for line in text.splitlines() for field in line.split("\t") if field
            }
            rows.append(("tshark -T fields", wall, cpu, rss, len(their_names)))
        else:
            their_names = set()
            print("tshark not installed: no comparison")

        print(
            f"\n{'reader':<22}{'wall s':>8}{'CPU s':>8}{'packets/s':>11}{'per CPU s':>11}"
            f"{'peak RSS MB':>13}{'names':>9}"
        )
        for label, secs, cpu, rss, count in rows:
            print(
                f"{label:<22}{secs:>8.2f}{cpu:>8.2f}{packets / secs:>11,.0f}"
                f"{packets / cpu:>11,.0f}{rss / 1024:>13.1f}{count:>9,}"
            )
        print("(residency's wall time is read_input alone; tshark's includes its start-up)")
        print(f"(python + residency imports alone: {baseline / 1024:.1f} MB peak RSS)")
        if tshark:
            same = our_names == their_names
            print(
                f"names agree with tshark: {same}"
                + (
                    ""
                    if same
                    else f" (only residency: {len(our_names - their_names)}, "
                    f"only tshark: {len(their_names - our_names)})"
                )
            )

        print("\nmemory with a fixed set of 1,000 names (flow and answer tables, not output):")
        for items in (options.items, options.items * 2):
            path = folder / f"repeat-{items}.pcap"
            count = generate(path, items, distinct=1000)
            run = residency_run(path)
            print(
                f"  {count:>9,} packets: peak RSS {int(run['rss_kb']) / 1024:6.1f} MB, "  # type: ignore[call-overload]
                f"{count / float(run['seconds']):,.0f} packets/s"
            )  # type: ignore[arg-type]
            path.unlink()
        if options.keep:
            options.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(capture, options.keep / capture.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
