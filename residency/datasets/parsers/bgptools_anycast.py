"""bgp.tools' measured anycast prefixes (``anycatch-v4-prefixes.txt`` / ``-v6-``): one CIDR a line.

These are prefixes bgp.tools' anycast detector saw answered from many places at
once: measured, not inferred from who operates them. The records carry no
provider and no place; their only claim is "anycast", as evidence kind
``anycast-measured``.

Junk lines (a stray word, a truncated prefix) are counted and dropped with one
note naming the first few, and the rest is used: one damaged line must not throw
away four thousand good ones. A file that is mostly junk is not this list at all
(an HTML error page, the wrong file) and is refused.
"""

from __future__ import annotations

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers._common import (
    canonical_network,
    content_version,
    decode_text,
    finish,
)
from residency.model import EvidenceKind

DATASET = "bgptools-anycast"
#: Above this share of junk among the non-blank lines the file is refused outright.
MAX_JUNK_SHARE = 0.1


def parse(data: bytes) -> ParsedFeed:
    text = decode_text(DATASET, data)
    networks: dict[str, None] = {}
    junk: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        network = canonical_network(line)
        if network is None:
            junk.append((number, line))
        else:
            networks[network] = None
    total = len(networks) + len(junk)
    if junk and (not networks or len(junk) > MAX_JUNK_SHARE * total):
        number, line = junk[0]
        raise FeedInvalid(
            f"{DATASET}: {len(junk)} of {total} lines are not IP networks"
            f" (line {number}: {line[:60]!r}); not an anycast prefix list"
        )
    notes: tuple[str, ...] = ()
    if junk:
        sample = ", ".join(f"line {n}: {line[:40]!r}" for n, line in junk[:3])
        notes = (f"dropped {len(junk)} lines that are not IP networks ({sample})",)
    records = (
        RangeRecord(
            network=n,
            provider=None,
            region=None,
            service=None,
            place=None,
            anycast=True,
            kind=EvidenceKind.ANYCAST,
        )
        for n in networks
    )
    return finish(DATASET, content_version(data), records, notes)
