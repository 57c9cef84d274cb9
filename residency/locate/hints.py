"""Hostname hints: names in a CNAME chain that reveal a provider, its region, or a CDN edge.

The patterns are data (``data/hostname_patterns.toml``), compiled once and indexed by
suffix, so matching a name costs a few dictionary lookups and at most a few regexes.
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from residency.errors import ResidencyError
from residency.model import Evidence, EvidenceKind, Place
from residency.paths import project_data_dir

SOURCE = "hostname-patterns"
PATTERNS_FILE = "hostname_patterns.toml"


class HintTableInvalid(ResidencyError):
    """``data/hostname_patterns.toml`` is missing or malformed (names the file and entry)."""


@dataclass(frozen=True)
class HostnamePattern:
    """One row of the table: a suffix, an optional regex, and what a match shows."""

    suffix: str
    provider: str
    regex: re.Pattern[str] | None = None
    region: str | None = None
    service: str | None = None
    cdn: bool = False
    what: str = ""
    region_map: Mapping[str, str] = field(default_factory=dict)

    def match(self, name: str) -> tuple[str | None, str | None] | None:
        """(region, service) when ``name`` matches, else None."""
        if self.regex is None:
            return self.region, self.service
        found = self.regex.fullmatch(name)
        if found is None:
            return None
        groups = found.groupdict()
        region = groups.get("region") or self.region
        if region is not None and self.region_map:
            region = self.region_map.get(region)
        return region, groups.get("service") or self.service


class HintTable:
    """The compiled pattern table."""

    def __init__(
        self,
        version: str,
        patterns: Iterable[HostnamePattern],
        sandbox_suffixes: Iterable[str] = (),
        places: Any = None,
    ) -> None:
        self.version = version
        self.patterns = tuple(patterns)
        self.sandbox_suffixes = tuple("." + s.strip(".").lower() for s in sandbox_suffixes)
        self._by_suffix: dict[str, list[HostnamePattern]] = {}
        for pattern in self.patterns:
            self._by_suffix.setdefault(pattern.suffix, []).append(pattern)
        self._places = places  # a RegionTable, or None when region tables are unavailable

    @classmethod
    def load(cls, path: Path | None = None, with_places: bool = True) -> HintTable:
        path = path if path is not None else project_data_dir() / PATTERNS_FILE
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise HintTableInvalid(
                f"{path}: cannot read hostname patterns ({err.strerror})"
            ) from None
        except tomllib.TOMLDecodeError as err:
            raise HintTableInvalid(f"{path}: invalid TOML: {err}") from None
        version = document.get("version")
        if not isinstance(version, str) or not version:
            raise HintTableInvalid(f"{path}: missing 'version'")
        rows = document.get("patterns")
        if not isinstance(rows, list) or not rows:
            raise HintTableInvalid(f"{path}: no [[patterns]] entries")
        patterns = [_pattern(path, index, row) for index, row in enumerate(rows, start=1)]
        places = None
        if with_places:
            try:
                from residency.datasets.regions import RegionTable

                places = RegionTable.load()
            except (ImportError, ResidencyError):
                places = None  # hints still name provider and region, just without a place
        return cls(version, patterns, document.get("sandbox_suffixes", ()), places)

    def match(self, name: str) -> Evidence | None:
        """Evidence from the first pattern matching ``name`` (longest suffix first)."""
        host = name.strip().rstrip(".").lower()
        for sandbox in self.sandbox_suffixes:
            if host.endswith(sandbox):
                host = host[: -len(sandbox)]
                break
        labels = host.split(".")
        for start in range(len(labels)):
            candidates = self._by_suffix.get(".".join(labels[start:]))
            if not candidates:
                continue
            for pattern in candidates:
                found = pattern.match(host)
                if found is not None:
                    return self._evidence(name, pattern, *found)
        return None

    def _evidence(
        self, name: str, pattern: HostnamePattern, region: str | None, service: str | None
    ) -> Evidence:
        place: Place | None = None
        if region and self._places is not None:
            place = self._places.place_of(pattern.provider, region)
        note = name.strip().rstrip(".").lower()
        if pattern.what:
            note = f"{note} ({pattern.what})"
        return Evidence(
            source=SOURCE,
            kind=EvidenceKind.HOSTNAME,
            version=self.version,
            place=place,
            provider=pattern.provider,
            region=region,
            service=service,
            anycast=pattern.cdn,
            note=note,
        )


def _pattern(path: Path, index: int, row: object) -> HostnamePattern:
    where = f"{path}: patterns entry {index}"
    if not isinstance(row, dict):
        raise HintTableInvalid(f"{where}: not a table")
    unknown = set(row) - {
        "suffix",
        "regex",
        "provider",
        "region",
        "service",
        "cdn",
        "what",
        "region_map",
    }
    if unknown:
        raise HintTableInvalid(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    suffix, provider = row.get("suffix"), row.get("provider")
    if not isinstance(suffix, str) or not suffix.strip("."):
        raise HintTableInvalid(f"{where}: 'suffix' is required")
    if not isinstance(provider, str) or not provider:
        raise HintTableInvalid(f"{where} ({suffix}): 'provider' is required")
    regex = None
    if "regex" in row:
        try:
            regex = re.compile(str(row["regex"]))
        except re.error as err:
            raise HintTableInvalid(f"{where} ({suffix}): bad regex: {err}") from None
    region_map = row.get("region_map", {})
    if not isinstance(region_map, dict):
        raise HintTableInvalid(f"{where} ({suffix}): 'region_map' must be a table")
    return HostnamePattern(
        suffix=suffix.strip(".").lower(),
        provider=provider,
        regex=regex,
        region=row.get("region"),
        service=row.get("service"),
        cdn=bool(row.get("cdn", False)),
        what=str(row.get("what", "")),
        region_map={str(k): str(v) for k, v in region_map.items()},
    )


_default: HintTable | None = None
_default_lock = threading.Lock()


def default_table() -> HintTable:
    """The project's table, loaded once per process."""
    global _default
    with _default_lock:
        if _default is None:
            _default = HintTable.load()
        return _default


def hostname_hints(names: Iterable[str], table: HintTable | None = None) -> tuple[Evidence, ...]:
    """One piece of evidence per name that matches a pattern (duplicates dropped, order kept)."""
    table = table if table is not None else default_table()
    found: dict[Evidence, None] = {}
    for name in names:
        evidence = table.match(name)
        if evidence is not None:
            found.setdefault(evidence, None)
    return tuple(found)
