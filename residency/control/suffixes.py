"""Shared provider domains under which customers get their own names (``*.cloudfront.net``).

A name under one is its customer's: the provider hosts it and the domain-owner tables
name the provider, but the provider does not control the service. Two sources:
``data/customer_suffixes.toml`` (curated, with the provider's organisation and the
provider's own document per suffix) and the PRIVATE section of the public suffix list
(the installed copy, else the snapshot bundled in tldextract), read at run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from residency.control.errors import ControlTableInvalid, read_named_tables
from residency.paths import project_data_dir

FILE = "customer_suffixes.toml"
_BEGIN_PRIVATE = "// ===BEGIN PRIVATE DOMAINS==="
_END_PRIVATE = "// ===END PRIVATE DOMAINS==="


@dataclass(frozen=True)
class CustomerSuffix:
    suffix: str  # "cloudfront.net"
    provider_name: str  # "Amazon CloudFront"
    source: str  # the provider's document, or "public suffix list (private section)"
    organisation: str | None = None  # id in data/organisations.toml
    wildcard: bool = False  # PSL "*.r.appspot.com": only names one label deeper count

    def why(self) -> str:
        """The same for every name under the suffix (so one answer serves them all)."""
        return (
            f"controller unknown, because it is a customer's name under {self.suffix} "
            f"({self.provider_name}: it hosts the name, its customer controls it; "
            f"source {self.source})"
        )


@dataclass(frozen=True)
class CustomerHost:
    """A name found under a customer suffix."""

    host: str
    suffix: CustomerSuffix

    def why(self) -> str:
        return self.suffix.why()


def private_suffixes(text: str, source: str) -> list[CustomerSuffix]:
    """The PRIVATE section of a public suffix list, each rule with the provider named in
    the comment block above it (``// Amazon CloudFront : https://...``)."""
    start, end = text.find(_BEGIN_PRIVATE), text.find(_END_PRIVATE)
    if start < 0 or end < start:
        return []
    found: list[CustomerSuffix] = []
    provider = "a hosting provider"
    fresh_comment = True
    for raw in text[start + len(_BEGIN_PRIVATE) : end].splitlines():
        line = raw.strip()
        if not line:
            fresh_comment = True
            continue
        if line.startswith("//"):
            if fresh_comment:
                provider = line[2:].split(" : ")[0].strip() or provider
                fresh_comment = False
            continue
        fresh_comment = True
        rule = line.split()[0].lower()
        if rule.startswith("!"):
            continue  # exceptions: a name the provider itself runs
        wildcard = rule.startswith("*.")
        found.append(CustomerSuffix(rule.removeprefix("*."), provider, source, None, wildcard))
    return found


def _bundled_psl() -> tuple[str, str] | None:
    """The suffix list text in use: the installed one, else tldextract's snapshot (found
    without importing tldextract, whose import of requests costs more than this read)."""
    import importlib.metadata
    import importlib.util

    from residency.datasets.errors import DatasetError
    from residency.datasets.manifest import load_manifest

    try:
        entry = load_manifest().entries.get("public-suffix-list")
        if entry is not None:
            for path in entry.file_paths():
                if path.is_file():
                    text = path.read_text(encoding="utf-8")
                    return text, f"public suffix list {entry.version}"
        spec = importlib.util.find_spec("tldextract")
        if spec is None or spec.origin is None:
            return None
        snapshot = Path(spec.origin).parent / ".tld_set_snapshot"
        version = importlib.metadata.version("tldextract")
        text = snapshot.read_text(encoding="utf-8")
        return text, f"public suffix list (tldextract {version} snapshot)"
    except (OSError, DatasetError, UnicodeDecodeError, importlib.metadata.PackageNotFoundError):
        return None


class CustomerSuffixes:
    def __init__(self, suffixes: Iterable[CustomerSuffix]) -> None:
        self.exact: dict[str, CustomerSuffix] = {}
        self.wild: dict[str, CustomerSuffix] = {}
        for entry in suffixes:
            table = self.wild if entry.wildcard else self.exact
            current = table.get(entry.suffix)
            if current is None or (current.organisation is None and entry.organisation):
                table[entry.suffix] = entry  # the curated entry (with its organisation) wins

    @classmethod
    def load(cls, path: Path | None = None, with_psl: bool = True) -> CustomerSuffixes:
        path = path or project_data_dir() / FILE
        rows = read_named_tables(path, "suffixes", '[suffixes."<domain>"]', allow_empty=True)
        entries: list[CustomerSuffix] = []
        if with_psl:
            psl = _bundled_psl()
            if psl is not None:
                entries.extend(private_suffixes(*psl))
        for suffix, row in rows.items():
            if not isinstance(row, dict) or not all(
                isinstance(row.get(k), str) for k in ("provider", "name", "source")
            ):
                raise ControlTableInvalid(
                    f'{path}: [suffixes."{suffix}"] needs provider, name and source strings'
                )
            entries.append(
                CustomerSuffix(suffix.lower(), row["name"], row["source"], row["provider"])
            )
        return cls(entries)

    def customer_host(self, host: str) -> CustomerHost | None:
        """The suffix ``host`` is a customer's name under (the longest), or None. The
        suffix itself (``cloudfront.net``) is the provider's own name."""
        host = host.lower().rstrip(".")
        dot = host.find(".")
        if dot < 0:
            return None
        found = self.above_children(host[dot + 1 :])
        return CustomerHost(host, found) if found is not None else None

    def above_children(self, parent: str) -> CustomerSuffix | None:
        """The suffix every name one label below ``parent`` is a customer's name under
        (the longest; ``parent`` itself included), or None: it depends on ``parent``
        alone, so names under one parent can share the answer."""
        suffix, depth = parent, 1
        while True:
            found = self.exact.get(suffix)
            if found is None and depth >= 2:
                found = self.wild.get(suffix)
            if found is not None:
                return found
            dot = suffix.find(".")
            if dot < 0:
                return None
            suffix = suffix[dot + 1 :]
            depth += 1

    def covers(self, host: str, domain: str, found: CustomerHost | None = None) -> bool:
        """Whether ``domain`` (a table's match for ``host``) is at or above the customer
        suffix ``host`` sits under: then the table names the provider, not the customer."""
        found = found or self.customer_host(host)
        return found is not None and (
            domain == found.suffix.suffix or found.suffix.suffix.endswith("." + domain)
        )


@cache
def default_suffixes() -> CustomerSuffixes:
    return CustomerSuffixes.load()
