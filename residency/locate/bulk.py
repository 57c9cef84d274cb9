"""Bulk enrichment for files of addresses: one row of text per address, streamed."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from residency.addresses import AddressError, parse_address
from residency.locate.index.summary import ANYCAST, CDN, CONFIDENCE_LEVELS, ROUTABLE
from residency.locate.locator import Locator

CHUNK = 65536


#: Longest line accepted (an address with a comment fits many times over). Longer
#: lines are reported and skipped, read in bounded pieces, never held whole.
MAX_LINE = 4096
_SKIP_PIECE = 65536


def _shown(text: str, limit: int = 80) -> str:
    """User input as echoed in a message: quoted and cut to about ``limit`` characters."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 3]) + "..."


class BulkProblem(str):
    """A one-line message about one input line or file, in place of a row."""


class _FileProblem(BulkProblem):
    """A file that cannot be (further) read: rows read before it are printed first."""


def _open_source(source: str) -> BinaryIO | _FileProblem:
    if source == "-":
        return sys.stdin.buffer
    try:
        return open(source, "rb")  # closed by _addresses
    except FileNotFoundError:
        return _FileProblem(f"{source}: no such file")
    except IsADirectoryError:
        return _FileProblem(f"{source}: is a directory, not a file of addresses")
    except OSError as err:
        return _FileProblem(f"{source}: cannot read ({err.strerror or err})")


def _lines(source: str, handle: BinaryIO) -> Iterator[tuple[str, str] | BulkProblem]:
    lineno = 0
    while True:
        lineno += 1
        where = f"{source}:{lineno}"
        try:
            raw = handle.readline(MAX_LINE + 1)
        except OSError as err:
            yield _FileProblem(f"{where}: read failed ({err.strerror or err})")
            return
        if not raw:
            return
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            # Skip the rest of the line piece by piece: memory stays bounded.
            try:
                while raw and not raw.endswith(b"\n"):
                    raw = handle.readline(_SKIP_PIECE)
            except OSError as err:
                yield _FileProblem(f"{where}: read failed ({err.strerror or err})")
                return
            yield BulkProblem(f"{where}: line longer than {MAX_LINE} bytes")
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            # One bad line is reported; the lines after it are still read.
            yield BulkProblem(f"{where}: not UTF-8")
            continue
        text = line.split("#", 1)[0].strip()
        if text:
            yield where, text


def _addresses(sources: Iterable[str]) -> Iterator[tuple[str, str] | BulkProblem]:
    """(origin, address) for every non-blank, non-comment line of each file ('-' is stdin),
    or a problem naming the file (missing, a directory, unreadable) or the line (not
    UTF-8, too long). A bad file does not stop the files after it."""
    for source in sources:
        handle = _open_source(source)
        if isinstance(handle, BulkProblem):
            yield handle
            continue
        try:
            yield from _lines(source, handle)
        finally:
            if handle is not sys.stdin.buffer:
                handle.close()


def bulk_rows(locator: Locator, sources: Iterable[str]) -> Iterator[tuple[str, ...] | BulkProblem]:
    """One row per address (values in ``model.BULK_COLUMNS`` order); a bad line or file
    yields a ``BulkProblem`` instead and the rest go on. Rows read before a bad file or
    line are yielded before its problem. Memory is bounded by the chunk."""
    chunk: list[tuple[str, str]] = []
    for item in _addresses(sources):
        if isinstance(item, BulkProblem):
            if chunk and isinstance(item, _FileProblem):
                yield from _rows(locator, chunk)
                chunk = []
            yield item
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield from _rows(locator, chunk)
            chunk = []
    if chunk:
        yield from _rows(locator, chunk)


def _rows(
    locator: Locator, chunk: list[tuple[str, str]]
) -> Iterator[tuple[str, ...] | BulkProblem]:
    good: list[str] = []
    for origin, text in chunk:
        try:
            good.append(parse_address(text).text)
        except AddressError as err:
            reason = str(err).replace(repr(text), _shown(text))
            yield BulkProblem(f"{origin}: {reason}")
    if not good:
        return
    enriched = locator.enrich(good)
    country = enriched.column("country")
    provider = enriched.column("provider")
    region = enriched.column("region")
    asn = enriched.column("asn")
    flags = enriched.column("flags")
    confidence = enriched.column("confidence")
    for i, ip in enumerate(good):
        f = int(flags[i])
        yield (
            ip,
            "yes" if f & ROUTABLE else "no",
            country[i] or "-",
            provider[i] or "-",
            region[i] or "-",
            str(int(asn[i])) if asn[i] else "-",
            "yes" if f & ANYCAST else "no",
            "yes" if f & CDN else "no",
            CONFIDENCE_LEVELS[int(confidence[i])],
        )
