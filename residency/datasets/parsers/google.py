"""Google's ``goog.json``: every network Google announces, without region or service.

Same layout as Google Cloud's ``cloud.json`` (``prefixes`` of ``ipv4Prefix`` /
``ipv6Prefix``, ``syncToken``, ``creationTime``); provider ``google``, since
these are Google's own services (Search, Gmail, 8.8.8.8...), not Cloud tenants.
"""

from __future__ import annotations

from residency.datasets.interface import ParsedFeed, RangeRecord
from residency.datasets.parsers._common import NetworkNormaliser, finish
from residency.datasets.parsers.gcp import open_prefixes, prefix_of, version_of

DATASET = "google-goog"


def parse(data: bytes) -> ParsedFeed:
    doc, prefixes = open_prefixes(DATASET, data)
    normalise = NetworkNormaliser()
    networks = dict.fromkeys(
        n for n in (normalise(prefix_of(DATASET, e)) for e in prefixes) if n is not None
    )
    records = (
        RangeRecord(network=n, provider="google", region=None, service=None, place=None)
        for n in networks
    )
    return finish(DATASET, version_of(DATASET, doc), records, normalise.notes())
