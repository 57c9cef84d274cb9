"""Bulk enrichment for files of addresses: one tab-separated row per address, streamed."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

from residency.locate.locator import (
    ANYCAST,
    CDN,
    CONFIDENCE_LEVELS,
    ROUTABLE,
    InvalidAddress,
    Locator,
)

COLUMNS = ("ip", "routable", "country", "provider", "region", "asn", "anycast", "cdn", "confidence")
CHUNK = 65536


def _addresses(sources: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(origin, address) for every non-blank, non-comment line of each file ('-' is stdin)."""
    for source in sources:
        handle: TextIO = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
        try:
            for lineno, line in enumerate(handle, 1):
                text = line.split("#", 1)[0].strip()
                if text:
                    yield f"{source}:{lineno}", text
        finally:
            if handle is not sys.stdin:
                handle.close()


def bulk_rows(locator: Locator, sources: Iterable[str]) -> Iterator[str]:
    """A header, then one row per address; a bad line yields a one-line error instead
    (starting with "residency: ") and the rest go on. Memory is bounded by the chunk."""
    yield "\t".join(COLUMNS)
    chunk: list[tuple[str, str]] = []
    for item in _addresses(sources):
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield from _rows(locator, chunk)
            chunk = []
    if chunk:
        yield from _rows(locator, chunk)


def _rows(locator: Locator, chunk: list[tuple[str, str]]) -> Iterator[str]:
    good: list[str] = []
    for origin, text in chunk:
        try:
            locator.index.combo_of(text)  # validates cheaply (raises ValueError)
            good.append(text)
        except (ValueError, InvalidAddress):
            yield f"residency: {origin}: {text!r} is not an IPv4 or IPv6 address"
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
        yield "\t".join(
            (
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
        )
