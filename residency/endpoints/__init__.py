"""Endpoint inputs: names, URLs, lists, stdin, HAR, pcap/pcapng, PCAPdroid CSV, mitmproxy
flow files, zone files, dig.

``read_targets(args)`` reads command-line targets; ``read_input(path, fmt)`` reads
one file. ``READERS`` is the explicit registry of formats.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import BinaryIO

from residency.endpoints.capture.reader import CaptureReader
from residency.endpoints.collect import EndpointCollector
from residency.endpoints.detect import detect_format, looks_like_path, sniff
from residency.endpoints.dig import DigReader
from residency.endpoints.errors import InputError, InputUnreadable, InvalidEntry, UnknownFormat
from residency.endpoints.har import HarReader
from residency.endpoints.interface import InputReader, ReadOptions, Targets
from residency.endpoints.lists import ListReader
from residency.endpoints.mitmflows import MitmFlowsReader
from residency.endpoints.normalise import canonical_name, normalise_host
from residency.endpoints.pcapdroid_csv import PcapdroidCsvReader
from residency.endpoints.stream import iter_targets
from residency.endpoints.zone import ZoneReader

__all__ = [
    "READERS",
    "InputError",
    "InputReader",
    "InputUnreadable",
    "InvalidEntry",
    "ReadOptions",
    "Targets",
    "UnknownFormat",
    "canonical_name",
    "detect_format",
    "iter_targets",
    "looks_like_path",
    "normalise_host",
    "read_input",
    "read_stream",
    "read_targets",
    "sniff",
]

#: Every input format residency reads, by the name ``--format`` / ``fmt`` takes.
READERS: dict[str, InputReader] = {
    "list": ListReader(),
    "har": HarReader(),
    "pcap": CaptureReader(),
    "zone": ZoneReader(),
    "dig": DigReader(),
    "pcapdroid-csv": PcapdroidCsvReader(),
    "mitmproxy": MitmFlowsReader(),
}


def read_stream(
    stream: BinaryIO, origin: str, fmt: str | None = None, options: ReadOptions | None = None
) -> Targets:
    """Read one already-open binary stream; ``fmt=None`` detects the format."""
    options = options or ReadOptions()
    if fmt is None:
        head, stream = sniff(stream)
        fmt = detect_format(head, origin)
    reader = READERS.get(fmt)
    if reader is None:
        raise UnknownFormat(f"unknown input format {fmt!r}; known: {', '.join(READERS)}")
    return reader.read(stream, origin, options)


def read_input(
    path: str | os.PathLike[str], fmt: str | None = None, options: ReadOptions | None = None
) -> Targets:
    """Read one file (``"-"`` is stdin). Raises ``InputError`` when nothing can be read."""
    name = os.fspath(path)
    if name == "-":
        return read_stream(sys.stdin.buffer, "stdin", fmt, options)
    if fmt is not None and fmt not in READERS:
        raise UnknownFormat(f"unknown input format {fmt!r}; known: {', '.join(READERS)}")
    try:
        with open(name, "rb") as stream:
            return read_stream(stream, name, fmt, options)
    except FileNotFoundError:
        raise InputUnreadable(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputUnreadable(f"{name}: is a directory, not a file") from None
    except PermissionError:
        raise InputUnreadable(f"{name}: permission denied") from None
    except OSError as err:
        raise InputUnreadable(f"{name}: cannot read ({err.strerror or err})") from None


def read_targets(
    args: Sequence[str],
    stdin: BinaryIO | None = None,
    options: ReadOptions | None = None,
) -> Targets:
    """Command-line targets: names, URLs, IP literals, files (any format), ``-`` for stdin.

    An argument with a scheme (``https://...``) is a URL; ``@path`` is always a
    file; otherwise an existing file is read as a file, anything else as a host.
    A bad argument or unreadable file becomes an InputProblem; the rest are read.
    Duplicates across all inputs are merged (one endpoint per host).
    """
    collector = EndpointCollector()
    for arg in args:
        if arg == "-":
            source = stdin if stdin is not None else sys.stdin.buffer
            try:
                collector.extend(read_stream(source, "stdin", None, options))
            except InputError as err:
                collector.problem("-", "stdin", str(err))
            continue
        path = arg[1:] if arg.startswith("@") else arg
        if arg.startswith("@") or looks_like_path(arg):
            try:
                collector.extend(read_input(path, None, options))
            except InputError as err:
                collector.problem(arg, "argv", str(err))
            continue
        try:
            collector.add(normalise_host(arg, origin="argv"))
        except InvalidEntry as err:
            collector.problem(arg, "argv", str(err))
    return collector.targets()
