"""ip-location-db's ASN CSV (``start_ip,end_ip,asn,org``; ranges, not CIDRs).

The file has about half a million rows. ``parse_ranges`` streams them as
integer ranges ``(start, end, asn, org)`` for a compiled interval index, which
is what the locator should use; ``parse`` gives the common ``ParsedFeed`` with
each range split into CIDRs (slower, and several times as many records).
Both the text form (``1.0.0.0``) and the ``-num`` form (integers) are read;
in the integer form a value above 2**32-1 means IPv6.
"""

from __future__ import annotations

import csv
import ipaddress
import socket
from collections.abc import Iterator

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers._common import content_version, decode_text, finish
from residency.model import EvidenceKind

DATASET = "ipdb-asn"
_V4_MAX = (1 << 32) - 1
#: Rows that may fail before the file is judged not to be an ASN CSV at all.
_MAX_BAD_LEADING_ROWS = 5


def parse_ranges(data: bytes) -> Iterator[tuple[int, int, int, str]]:
    """Yield ``(start, end, asn, org)`` per row, start and end as integers.

    Bad rows are skipped, but a file whose first rows are all bad raises
    ``FeedInvalid`` (wrong format), as does a file with no row at all.
    """
    for start, end, asn, org, _ in _rows(data):
        yield start, end, asn, org


def _rows(data: bytes) -> Iterator[tuple[int, int, int, str, bool]]:
    # One tight loop with no per-row helper calls: the file has ~500k rows.
    text = decode_text(DATASET, data)
    inet_pton, from_bytes = socket.inet_pton, int.from_bytes
    af4, af6 = socket.AF_INET, socket.AF_INET6
    good = bad = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line or line[0] == "#":
            continue
        if '"' in line:
            fields = next(csv.reader([line]))
            parts = [*fields[:3], ",".join(fields[3:])]
        else:
            parts = line.split(",", 3)
        try:
            first, last, asn_text = parts[0].strip(), parts[1].strip(), parts[2].strip()
            if ":" in first:
                start = from_bytes(inet_pton(af6, first), "big")
                end = from_bytes(inet_pton(af6, last), "big")
                v6 = True
            elif first.isdigit() and last.isdigit():
                start, end = int(first), int(last)
                v6 = end > _V4_MAX
            else:
                start = from_bytes(inet_pton(af4, first), "big")
                end = from_bytes(inet_pton(af4, last), "big")
                v6 = False
            asn = int(asn_text[2:] if asn_text[:2] in ("AS", "as") else asn_text)
            if end < start or asn < 0:
                raise ValueError("bad range")
        except (IndexError, OSError, ValueError):
            bad += 1
            if good == 0 and bad >= _MAX_BAD_LEADING_ROWS:
                raise FeedInvalid(
                    f"{DATASET}: line {number} is not 'start_ip,end_ip,asn,org': "
                    f"{line[:60]!r}; wrong file?"
                ) from None
            continue
        good += 1
        yield start, end, asn, parts[3].strip() if len(parts) > 3 else "", v6
    if good == 0:
        raise FeedInvalid(f"{DATASET}: no ASN ranges found; empty or wrong-format file")


def iter_ranges(data: bytes) -> Iterator[tuple[int, int, int, str]]:
    """Alias of :func:`parse_ranges`, the range form shared with the other parsers."""
    return parse_ranges(data)


def parse(data: bytes) -> ParsedFeed:
    records: list[RangeRecord] = []
    for start, end, asn, org, v6 in _rows(data):
        first, last = _addresses(start, end, v6)
        for network in ipaddress.summarize_address_range(first, last):
            records.append(
                RangeRecord(
                    network=str(network),
                    provider=None,
                    region=None,
                    service=None,
                    place=None,
                    asn=asn,
                    org=org or None,
                    kind=EvidenceKind.ASN,
                )
            )
    return finish(DATASET, content_version(data), records)


def _addresses(
    start: int, end: int, v6: bool
) -> (
    tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]
    | tuple[ipaddress.IPv6Address, ipaddress.IPv6Address]
):
    if not v6:
        return ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)
    return ipaddress.IPv6Address(start), ipaddress.IPv6Address(end)
