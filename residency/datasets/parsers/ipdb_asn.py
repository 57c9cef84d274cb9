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
import io
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
    text = decode_text(DATASET, data)
    good = bad = 0
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or row[0].startswith("#"):
            continue
        parsed = _row(row)
        if parsed is None:
            bad += 1
            if good == 0 and bad >= _MAX_BAD_LEADING_ROWS:
                raise FeedInvalid(
                    f"{DATASET}: line {number} is not 'start_ip,end_ip,asn,org': "
                    f"{','.join(row)[:60]!r}; wrong file?"
                )
            continue
        good += 1
        yield parsed
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


def _row(row: list[str]) -> tuple[int, int, int, str, bool] | None:
    if len(row) < 3:
        return None
    start = _to_int(row[0])
    end = _to_int(row[1])
    if start is None or end is None or end < start:
        return None
    asn_text = row[2].strip().upper().removeprefix("AS")
    if not asn_text.isdigit():
        return None
    org = ",".join(row[3:]).strip() if len(row) > 3 else ""
    v6 = ":" in row[0] or end > _V4_MAX
    return start, end, int(asn_text), org, v6


def _to_int(text: str) -> int | None:
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        if ":" in text:
            return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        return None
