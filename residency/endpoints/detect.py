"""Which reader an input needs: by its first bytes, then by its name."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, BinaryIO

from residency.endpoints.capture.framing import is_capture
from residency.endpoints.dig import looks_like_dig
from residency.endpoints.mitmflows import looks_like_flows
from residency.endpoints.pcapdroid_csv import looks_like_pcapdroid_csv

_EXTENSIONS = {
    ".har": "har",
    ".zhar": "har",  # mitmproxy's zlib-compressed HAR
    ".pcap": "pcap",
    ".pcapng": "pcap",
    ".cap": "pcap",
    ".zone": "zone",
    ".dig": "dig",
    ".mitm": "mitmproxy",
    ".flows": "mitmproxy",
    ".txt": "list",
    ".list": "list",
}
_SNIFF = 65536


def detect_format(head: bytes, name: str = "") -> str:
    """The reader for an input, from its first bytes, then its file name."""
    if is_capture(head):
        return "pcap"
    if looks_like_flows(head):
        return "mitmproxy"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("{"):
        return "har"
    if looks_like_dig(text):
        return "dig"
    if looks_like_pcapdroid_csv(text):
        return "pcapdroid-csv"
    by_name = _EXTENSIONS.get(Path(name).suffix.lower())
    if by_name:
        return by_name
    if Path(name).name.startswith("db.") or _looks_like_zone(text):
        return "zone"
    return "list"


def _looks_like_zone(text: str) -> bool:
    upper = text.upper()
    return any(
        line.lstrip().startswith(("$ORIGIN", "$TTL")) for line in upper.splitlines()[:50]
    ) or (" SOA " in upper or "\tSOA\t" in upper or " IN SOA" in upper)


class _Prefixed(io.RawIOBase):
    """Bytes already read for sniffing, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._head:
            size = min(len(target), len(self._head))
            target[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(target))
        target[: len(data)] = data
        return len(data)


def sniff(stream: BinaryIO) -> tuple[bytes, BinaryIO]:
    """The first bytes of a stream, and a stream that still yields them."""
    if isinstance(stream, io.BufferedReader):
        return stream.peek(_SNIFF)[:_SNIFF], stream
    head = stream.read(_SNIFF)
    return head, io.BufferedReader(_Prefixed(head, stream))


_PATH_SUFFIXES = frozenset({*_EXTENSIONS, ".csv", ".json", ".db"})


def looks_like_path(arg: str) -> bool:
    """Whether a command-line argument names a file rather than a host.

    An existing file or directory does; so does something written like a path
    (``./x``, ``/x``, ``~/x``, ``x.har``), so that a mistyped file name is reported
    as a missing file instead of being audited as a host name.
    """
    if "://" in arg:
        return False
    if os.path.exists(arg):
        return True
    return arg.startswith(("./", "../", "/", "~")) or Path(arg).suffix.lower() in _PATH_SUFFIXES
