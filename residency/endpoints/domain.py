"""The registrable domain of a host name, from the public suffix list bundled with tldextract.

Offline by design: the list is the snapshot shipped inside the tldextract wheel, or the copy
``residency data update`` installed (dataset ``public-suffix-list``), read from disk once per
process; nothing is fetched at run time and nothing is cached on disk. Only the ICANN section
counts, so the registrable domain
of ``bucket.s3.amazonaws.com`` is ``amazonaws.com``: the party that registered the name, which is
what controller evidence (domain registrant, grouping) is about.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from residency.addresses import is_address

if TYPE_CHECKING:
    import tldextract


def suffix_extractor(directory: Path | None = None) -> tuple[tldextract.TLDExtract, str]:
    """The installed list in the dataset folder ``directory`` if any, else the bundled
    snapshot; with which one it is. tldextract (and the requests it imports, ~80 ms) is
    loaded here, at the first name looked up, not when an audit starts."""
    import tldextract

    from residency.datasets.suffix_list import installed_suffix_list

    installed = installed_suffix_list(directory)
    if installed is None:
        bundled = tldextract.TLDExtract(
            suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False
        )
        return bundled, f"tldextract {tldextract.__version__} bundled snapshot"
    path, version = installed
    extract = tldextract.TLDExtract(
        suffix_list_urls=(path.as_uri(),),
        cache_dir=None,
        fallback_to_snapshot=True,
        include_psl_private_domains=False,
    )
    return extract, f"public suffix list {version} ({path})"


@cache
def _chosen() -> tuple[tldextract.TLDExtract, str]:
    return suffix_extractor()


@lru_cache(maxsize=65536)
def registrable_domain(name: str) -> str | None:
    """``api.account.xiaomi.com`` -> ``xiaomi.com``; ``None`` for an address, a bare public
    suffix (``co.uk``) or a name under no known suffix (``localhost``, ``host.internal``)."""
    host = name.strip().rstrip(".").lower()
    if not host:
        return None
    if is_address(host):
        return None
    parts = _chosen()[0](host)
    if not parts.suffix or not parts.domain:
        return None
    return f"{parts.domain}.{parts.suffix}"


def public_suffix_list_version() -> str:
    """Which list answers: the installed one's version, or the tldextract release whose
    bundled snapshot is in use."""
    return _chosen()[1]
