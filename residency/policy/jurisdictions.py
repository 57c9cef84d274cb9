"""Country codes and named jurisdiction groups (``@EU``, ``@EEA``...) from jurisdictions.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from residency.paths import project_data_dir
from residency.policy.errors import JurisdictionTableInvalid


@dataclass(frozen=True)
class JurisdictionGroup:
    """A named list of countries with the source it was taken from and when it was checked."""

    name: str
    description: str
    source: str
    as_of: date
    countries: frozenset[str]  # fully expanded (nested groups resolved)
    members: tuple[str, ...]  # as written, e.g. ("@EU", "IS", "LI", "NO")
    note: str = ""


@dataclass(frozen=True)
class Jurisdictions:
    """ISO 3166-1 alpha-2 codes, known mistakes (UK -> GB) and groups."""

    countries: dict[str, str]  # code -> name
    aliases: dict[str, str]  # wrong code -> right code
    groups: dict[str, JurisdictionGroup]

    @classmethod
    def load(cls, path: Path | None = None) -> Jurisdictions:
        """The table at ``path`` (default ``data/jurisdictions.toml``), read once per path."""
        return _load_cached(path or project_data_dir() / "jurisdictions.toml")

    @classmethod
    def read(cls, path: Path) -> Jurisdictions:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise JurisdictionTableInvalid(
                f"{path}: cannot read jurisdiction table: {err}"
            ) from err
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], origin: str = "jurisdictions") -> Jurisdictions:
        countries = {str(k).upper(): str(v) for k, v in dict(raw.get("countries", {})).items()}
        aliases = {str(k).upper(): str(v).upper() for k, v in dict(raw.get("aliases", {})).items()}
        raw_groups: dict[str, Any] = dict(raw.get("groups", {}))
        groups: dict[str, JurisdictionGroup] = {}

        def expand(name: str, seen: tuple[str, ...]) -> frozenset[str]:
            if name in seen:
                raise JurisdictionTableInvalid(
                    f"{origin}: group cycle {' -> '.join((*seen, name))}"
                )
            entry = raw_groups.get(name)
            if not isinstance(entry, dict):
                raise JurisdictionTableInvalid(f"{origin}: unknown group @{name}")
            out: set[str] = set()
            for member in entry.get("countries", []):
                member = str(member)
                if member.startswith("@"):
                    out |= expand(member[1:], (*seen, name))
                elif member in countries:
                    out.add(member)
                else:
                    raise JurisdictionTableInvalid(
                        f"{origin}: group {name} lists unknown country {member!r}"
                    )
            return frozenset(out)

        for name, entry in raw_groups.items():
            as_of = entry.get("as_of")
            if not isinstance(as_of, date) or not entry.get("source"):
                raise JurisdictionTableInvalid(
                    f"{origin}: group {name} needs source and as_of date"
                )
            groups[name] = JurisdictionGroup(
                name=name,
                description=str(entry.get("description", "")),
                source=str(entry["source"]),
                as_of=as_of,
                countries=expand(name, ()),
                members=tuple(str(m) for m in entry.get("countries", [])),
                note=" ".join(str(entry.get("note", "")).split()),
            )
        return cls(countries=countries, aliases=aliases, groups=groups)

    def problem_with(self, code: str) -> str | None:
        """Why ``code`` is not a usable country code or ``@GROUP``; None when it is fine."""
        if code.startswith("@"):
            if code[1:] in self.groups:
                return None
            near = [g for g in self.groups if g.upper() == code[1:].upper()]
            hint = f" (did you mean @{near[0]}?)" if near else ""
            known = ", ".join("@" + g for g in sorted(self.groups))
            return f"unknown jurisdiction group {code!r}{hint}; known groups: {known}"
        if code in self.countries:
            return None
        upper = code.upper()
        if upper in self.aliases:
            right = self.aliases[upper]
            return (
                f"unknown country code {code!r}: not ISO 3166-1 alpha-2; "
                f"use {right!r} ({self.countries.get(right, right)})"
            )
        if upper in self.countries:
            return f"country code {code!r} must be upper case: {upper!r}"
        return f"unknown country code {code!r}: not ISO 3166-1 alpha-2"

    def expand(self, code: str) -> frozenset[str]:
        """The countries a valid code or ``@GROUP`` stands for."""
        if code.startswith("@"):
            return self.groups[code[1:]].countries
        return frozenset({code})

    def name_of(self, code: str) -> str:
        return self.countries.get(code, code)


@lru_cache(maxsize=8)
def _load_cached(path: Path) -> Jurisdictions:
    return Jurisdictions.read(path)


@lru_cache(maxsize=1)
def default_jurisdictions() -> Jurisdictions:
    """The project's table, read once per process (evaluation asks for it per endpoint)."""
    return Jurisdictions.load()
