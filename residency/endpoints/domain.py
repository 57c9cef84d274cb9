"""The registrable domain of a host name, from the public suffix list bundled with tldextract.

Offline by design: the list is the snapshot shipped inside the tldextract wheel, or the copy
``residency data update`` installed (dataset ``public-suffix-list``), read from disk once per
process; nothing is fetched at run time and nothing is cached on disk. Only the ICANN section
counts, so the registrable domain
of ``bucket.s3.amazonaws.com`` is ``amazonaws.com``: the party that registered the name, which is
what controller evidence (domain registrant, grouping) is about.
"""

from __future__ import annotations

from dataclasses import dataclass
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


_BEGIN, _END = "// ===BEGIN ICANN DOMAINS===", "// ===END ICANN DOMAINS==="


@dataclass(frozen=True)
class SuffixRules:
    """The ICANN section of a public suffix list as sets: ``co.uk``, ``*.ck``, ``!www.ck``."""

    exact: frozenset[str]
    wildcard: frozenset[str]  # "ck" for the rule "*.ck"
    exception: frozenset[str]  # "www.ck" for the rule "!www.ck"
    label: str

    @classmethod
    def parse(cls, text: str, label: str) -> SuffixRules:
        start, end = text.find(_BEGIN), text.find(_END)
        section = text[start:end] if 0 <= start < end else text
        exact: set[str] = set()
        wildcard: set[str] = set()
        exception: set[str] = set()
        for line in section.splitlines():
            rule = line.strip().split(" ", 1)[0].lower()
            if not rule or rule.startswith("//"):
                continue
            if rule.startswith("!"):
                exception.add(rule[1:])
            elif rule.startswith("*."):
                wildcard.add(rule[2:])
            else:
                exact.add(rule)
        return cls(frozenset(exact), frozenset(wildcard), frozenset(exception), label)

    def registrable(self, labels: list[str]) -> int | None:
        """Where the registrable domain of lower-case ``labels`` (Unicode, as the list
        writes them) starts: the longest public suffix plus one label; None: no such."""
        for index in range(len(labels)):
            candidate = ".".join(labels[index:])
            if candidate in self.exception:
                suffix_at = index + 1
            elif candidate in self.exact or ".".join(labels[index + 1 :]) in self.wildcard:
                suffix_at = index
            else:
                continue
            return None if suffix_at == 0 else suffix_at - 1
        return None


@cache
def _rules() -> SuffixRules:
    """The installed list, else tldextract's bundled snapshot, read as text: tldextract
    itself (with requests, ~0.5 s to import) is not loaded for a lookup."""
    from importlib.util import find_spec

    from residency.datasets.suffix_list import installed_suffix_list

    installed = installed_suffix_list()
    if installed is not None:
        path, version = installed
        return SuffixRules.parse(
            path.read_text(encoding="utf-8"), f"public suffix list {version} ({path})"
        )
    spec = find_spec("tldextract")  # finds the package without running it
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for folder in locations:
        snapshot = Path(folder) / ".tld_set_snapshot"
        if snapshot.is_file():
            text = snapshot.read_text(encoding="utf-8")
            return SuffixRules.parse(text, f"tldextract {_tldextract_version()} bundled snapshot")
    return SuffixRules.parse("", "no public suffix list")  # every name: no registrable domain


def _tldextract_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tldextract")
    except PackageNotFoundError:
        return "?"


def _unicode(label: str) -> str:
    if label.startswith("xn--"):
        try:
            return label.encode("ascii").decode("idna")
        except (UnicodeError, ValueError):
            return label
    return label


@lru_cache(maxsize=65536)
def registrable_domain(name: str) -> str | None:
    """``api.account.xiaomi.com`` -> ``xiaomi.com``; ``None`` for an address, a bare public
    suffix (``co.uk``) or a name under no known suffix (``localhost``, ``host.internal``)."""
    host = name.strip().rstrip(".").lower()
    if not host or host.startswith("["):
        return None
    # only a name ending in a digit or holding a colon can be an address: skip the parse
    if (host[-1].isdigit() or ":" in host) and is_address(host):
        return None
    labels = host.split(".")
    if any(not label for label in labels):
        return None
    found = _rules().registrable([_unicode(label) for label in labels])
    return None if found is None else ".".join(labels[found:])


def public_suffix_list_version() -> str:
    """Which list answers: the installed one's version, or the tldextract release whose
    bundled snapshot is in use."""
    return _rules().label
