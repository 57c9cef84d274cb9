"""IPv6 space no regional registry holds: "not allocated", never a country.

GeoIP databases place addresses nobody can hold (``2b7c:c251::1`` came back as CH, and so
did 43% of random 2000::/3). IANA allocates global unicast IPv6 to the five RIRs in blocks
of 2000::/3 (``data/ipv6-unicast-address-assignments.csv``); an address outside every
RIR allocation is not routable on the Internet, whatever a database says. The
special-purpose registries (``data/special-purpose.csv``) are checked before this, by the
index itself.
"""

from __future__ import annotations

import bisect
import csv
import ipaddress
from dataclasses import dataclass
from functools import cache

from residency.paths import project_data_dir

TABLE = "ipv6-unicast-address-assignments.csv"
RIRS = frozenset({"AFRINIC", "APNIC", "ARIN", "LACNIC", "RIPE NCC"})
GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


@dataclass(frozen=True)
class _Table:
    starts: tuple[int, ...]  # RIR allocations, sorted, non-overlapping
    ends: tuple[int, ...]
    rows: tuple[tuple[ipaddress.IPv6Network, str, str], ...]  # every row: what else it is
    version: str  # the newest row's date


@cache
def _table() -> _Table:
    text = (project_data_dir() / TABLE).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    spans: list[tuple[int, int]] = []
    rows: list[tuple[ipaddress.IPv6Network, str, str]] = []
    newest = ""
    for row in csv.DictReader(lines):
        network = ipaddress.IPv6Network(row["prefix"])
        newest = max(newest, row["date"])
        rows.append((network, row["designation"], row["status"]))
        if row["status"] == "ALLOCATED" and row["designation"] in RIRS:
            spans.append((int(network.network_address), int(network.broadcast_address)))
    spans.sort()
    # most specific first, so a /16 inside a reserved /8 names itself
    rows.sort(key=lambda r: -r[0].prefixlen)
    return _Table(tuple(s for s, _ in spans), tuple(e for _, e in spans), tuple(rows), newest)


def unallocated_reason(address: ipaddress.IPv6Address) -> str | None:
    """Why ``address`` is held by no RIR, or None when an RIR allocation covers it."""
    table = _table()
    value = int(address)
    at = bisect.bisect_right(table.starts, value) - 1
    if at >= 0 and value <= table.ends[at]:
        return None
    source = f"IANA IPv6 unicast address assignments, {table.version}"
    for network, designation, status in table.rows:
        if address in network:
            held = "reserved by IANA" if status == "RESERVED" else f"{designation}, not an RIR"
            return f"not allocated to any RIR: {network.compressed} is {held} ({source})"
    if address not in GLOBAL_UNICAST:
        return f"not allocated: outside 2000::/3, the only IPv6 space IANA gives RIRs ({source})"
    return f"not allocated: unassigned by IANA to any RIR ({source})"
