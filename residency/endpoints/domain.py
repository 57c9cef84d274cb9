"""The registrable domain of a host name, from the public suffix list bundled with tldextract.

Offline by design: the list is the snapshot shipped inside the tldextract wheel, never fetched at
run time, and nothing is cached on disk. Only the ICANN section counts, so the registrable domain
of ``bucket.s3.amazonaws.com`` is ``amazonaws.com``: the party that registered the name, which is
what controller evidence (domain registrant, grouping) is about.
"""

from __future__ import annotations

from functools import lru_cache

import tldextract

from residency.addresses import is_address

_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False
)


@lru_cache(maxsize=65536)
def registrable_domain(name: str) -> str | None:
    """``api.account.xiaomi.com`` -> ``xiaomi.com``; ``None`` for an address, a bare public
    suffix (``co.uk``) or a name under no known suffix (``localhost``, ``host.internal``)."""
    host = name.strip().rstrip(".").lower()
    if not host:
        return None
    if is_address(host):
        return None
    parts = _EXTRACT(host)
    if not parts.suffix or not parts.domain:
        return None
    return f"{parts.domain}.{parts.suffix}"


def public_suffix_list_version() -> str:
    """Which list answered: the tldextract release whose bundled snapshot is in use."""
    return f"tldextract {tldextract.__version__} bundled snapshot"
