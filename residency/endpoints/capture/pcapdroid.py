"""PCAPdroid's per-packet app attribution: which Android app (UID, package) sent a packet.

Two documented forms (PCAPdroid's ``pcap_dump.c`` and its Wireshark dissector):

* pcap "with trailer": each packet gets a fake Ethernet header and, after the IP packet
  (and 0-3 bytes of padding), a 32-byte trailer: magic ``0x01072021``, UID (i32), app
  name (20 bytes, NUL padded), all big-endian, then a CRC-32 of the frame before it.
* pcapng: a custom block (type ``0x00000BAD``, PEN 62652) maps each UID to its package
  and app name once, and each packet's comment option says ``u-<uid>``.

Attribution is evidence from the capture file: a UID with no mapping block is kept as
"uid N" and said to be unnamed, never guessed.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from residency.endpoints.capture.decode import LINKTYPE_ETHERNET
from residency.endpoints.capture.framing import FramingReport

TRAILER_MAGIC = b"\x01\x07\x20\x21"
TRAILER_SIZE = 32
_ETHERNET_HEADER = 14


@dataclass(frozen=True)
class App:
    """One app as the capture names it."""

    uid: int
    package: str = ""  # from a pcapng UID block
    name: str = ""  # the app name (pcapng block) or the trailer's 20-byte name

    @property
    def label(self) -> str:
        known = self.package or self.name
        if known:
            return f"{known} (uid {self.uid})"
        return f"uid {self.uid} (no package name in the capture)"

    def matches(self, wanted: str) -> bool:
        """``--app`` by UID (digits) or by package or app name."""
        text = wanted.strip()
        if text.lstrip("-").isdigit():
            return int(text) == self.uid
        return text in (self.package, self.name)


def _trailer(frame: bytes) -> tuple[App, bool]:
    """(app, checksum agrees) from a PCAPdroid trailer at the end of ``frame``."""
    tail = frame[-TRAILER_SIZE:]
    (uid,) = struct.unpack(">i", tail[4:8])
    name = tail[8:28].split(b"\0", 1)[0].decode("utf-8", "replace")
    crc = zlib.crc32(frame[:-4])
    agrees = crc in struct.unpack("<I", tail[28:]) + struct.unpack(">I", tail[28:])
    return App(uid, name=name), agrees


def _uid_from_comment(comment: str) -> int | None:
    if not comment.startswith("u-"):
        return None
    digits = comment[2:].strip()
    if not digits.lstrip("-").isdigit() or len(digits) > 11:
        return None
    return int(digits)


@dataclass
class AppAttribution:
    """Reads each packet's app; with ``wanted`` (``--app``), says which packets to keep."""

    wanted: tuple[str, ...] = ()
    packets: dict[str, int] = field(default_factory=dict)  # app label -> packets
    attributed: int = 0
    unattributed: int = 0
    filtered_out: int = 0
    cut_trailers: int = 0
    bad_checksums: int = 0
    apps: dict[str, App] = field(default_factory=dict)

    def packet(
        self, linktype: int, frame: bytes, report: FramingReport
    ) -> tuple[App | None, bytes]:
        """The packet's app (None when unattributed) and the frame without the trailer."""
        app: App | None = None
        if report.packet_comment is not None:
            uid = _uid_from_comment(report.packet_comment)
            if uid is not None:
                package, name = report.uid_names.get(uid, ("", ""))
                app = App(uid, package, name)
        elif linktype == LINKTYPE_ETHERNET and len(frame) >= _ETHERNET_HEADER + TRAILER_SIZE:
            if frame[-TRAILER_SIZE : -TRAILER_SIZE + 4] == TRAILER_MAGIC:
                found, agrees = _trailer(frame)
                if not agrees:
                    self.bad_checksums += 1
                app, frame = found, frame[:-TRAILER_SIZE]
            elif TRAILER_MAGIC in frame[-TRAILER_SIZE - 3 :]:
                self.cut_trailers += 1  # a snap length cut the trailer: no app, said so
        if app is None:
            self.unattributed += 1
        else:
            self.attributed += 1
            self.apps.setdefault(app.label, app)
            self.packets[app.label] = self.packets.get(app.label, 0) + 1
        return app, frame

    def keeps(self, app: App | None) -> bool:
        if not self.wanted:
            return True
        if app is not None and any(app.matches(w) for w in self.wanted):
            return True
        self.filtered_out += 1
        return False

    def notes(self, origin: str) -> list[str]:
        lines = []
        if self.packets:
            top = sorted(self.packets.items(), key=lambda item: -item[1])
            shown = ", ".join(f"{label}: {count}" for label, count in top[:10])
            more = f" (+{len(top) - 10} more apps)" if len(top) > 10 else ""
            lines.append(f"{origin}: packets per app (PCAPdroid attribution): {shown}{more}")
            if self.unattributed:
                lines.append(f"{origin}: {self.unattributed} packets carry no app attribution")
        if self.cut_trailers:
            lines.append(
                f"{origin}: {self.cut_trailers} packets have a cut-off PCAPdroid trailer "
                "(snap length?); no app attributed to them"
            )
        if self.bad_checksums:
            lines.append(
                f"{origin}: {self.bad_checksums} PCAPdroid trailers fail their CRC-32; "
                "their app is used as written"
            )
        if self.filtered_out:
            lines.append(f"{origin}: {self.filtered_out} packets of other apps left out (--app)")
        return lines

    def problems(self) -> list[str]:
        """Why ``--app`` could not be honoured, one line each."""
        if not self.wanted:
            return []
        if not self.attributed:
            return [
                "--app given, but the capture has no PCAPdroid app attribution "
                "(pcap trailer or pcapng UID blocks); nothing from it is audited"
            ]
        unmatched = [w for w in self.wanted if not any(a.matches(w) for a in self.apps.values())]
        if not unmatched:
            return []
        known = ", ".join(sorted(self.apps)[:10])
        return [
            f"--app {w}: no packet of that app (apps in the capture: {known})" for w in unmatched
        ]
