"""The provider registry: who operates an address, and under which jurisdiction.

``data/providers.toml`` connects the facts ASN -> provider -> legal entity ->
headquarters jurisdiction. An address on AWS in Mumbai is *located* in IN and
*operated* under US jurisdiction; this module answers the second half only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from residency import paths
from residency.errors import ResidencyError
from residency.model import Operator

#: The kinds of organisation a registry entry may describe.
KINDS = frozenset({"cloud", "cdn", "platform", "isp", "registrant"})

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_CC = re.compile(r"^[A-Z]{2}$")
_MAX_ASN = 4_294_967_295

_REQUIRED = ("name", "entity", "jurisdiction", "kind", "source")
_OPTIONAL = (
    "parent",
    "incorporated",
    "other_jurisdictions",
    "cdn",
    "anycast",
    "asns",
    "asns_uncertain",
    "org_patterns",
    "notes",
)


class ProvidersFileInvalid(ResidencyError):
    """``providers.toml`` cannot be used; ``str()`` names the file, entry and problem."""


@dataclass(frozen=True)
class Provider:
    """One operator and the facts that tie addresses to it."""

    id: str
    name: str
    entity: str
    jurisdiction: str  # ISO 3166-1 alpha-2 of the controlling HQ
    kind: str
    source: str
    parent: str | None = None
    incorporated: str | None = None
    other_jurisdictions: tuple[str, ...] = ()
    cdn: bool = False
    anycast: bool = False
    asns: tuple[int, ...] = ()
    asns_uncertain: tuple[int, ...] = ()
    org_patterns: tuple[str, ...] = ()
    notes: str = ""

    def operator(self, basis: str) -> Operator:
        """The model's view of this provider, saying how we tied the address to it."""
        return Operator(
            provider=self.id,
            entity=self.entity,
            jurisdiction=self.jurisdiction,
            parent=self.parent,
            basis=basis,
            other_jurisdictions=self.other_jurisdictions,
        )


class ProviderRegistry:
    """Lookup tables over ``data/providers.toml``: by id, by ASN, by organisation name."""

    def __init__(self, providers: Mapping[str, Provider], origin: str = "<memory>") -> None:
        self.origin = origin
        self._by_id: dict[str, Provider] = dict(providers)
        self._by_asn: dict[int, Provider] = {}
        self._uncertain_asns: set[int] = set()
        for provider in self._by_id.values():
            for asn in provider.asns:
                self._claim_asn(asn, provider)
            for asn in provider.asns_uncertain:
                self._claim_asn(asn, provider)
                self._uncertain_asns.add(asn)
        self._compiled_patterns: list[tuple[str, re.Pattern[str], Provider]] | None = None

    @property
    def _org_patterns(self) -> list[tuple[str, re.Pattern[str], Provider]]:
        # compiled on first use: a plain address lookup should not pay for ~100 regexes
        if self._compiled_patterns is None:
            patterns = [
                (p, _word_pattern(p), provider)
                for provider in self._by_id.values()
                for p in provider.org_patterns
            ]
            # The longest pattern wins, so "Google Cloud" beats "Google".
            self._compiled_patterns = sorted(patterns, key=lambda item: -len(item[0]))
        return self._compiled_patterns

    def _claim_asn(self, asn: int, provider: Provider) -> None:
        owner = self._by_asn.get(asn)
        if owner is not None and owner.id != provider.id:
            raise ProvidersFileInvalid(
                f"{self.origin}: AS{asn} is listed under both {owner.id!r} and {provider.id!r}"
            )
        self._by_asn[asn] = provider

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls, path: Path | str | None = None, cache_dir: Path | None = None
    ) -> ProviderRegistry:
        """Read the registry from ``path`` (default: the project's ``data/providers.toml``).

        With ``cache_dir`` (the compiled index folder), the parsed document is kept there
        as JSON (``CACHE_NAME``) and reused while the TOML file is byte for byte the one
        it was parsed from: tomllib costs a cold ``residency ip`` about 8 ms, the JSON
        well under one. Every entry is checked again either way."""
        file = Path(path) if path is not None else paths.project_data_dir() / "providers.toml"
        try:
            raw = file.read_bytes()
        except OSError as err:
            raise ProvidersFileInvalid(f"{file}: cannot read: {err.strerror or err}") from err
        if cache_dir is None:
            return cls.from_toml(_decoded(raw, file), origin=str(file))
        document = _cached_document(cache_dir / CACHE_NAME, raw)
        if document is not None:
            return cls.from_document(document, origin=str(file), text=lambda: _decoded(raw, file))
        text = _decoded(raw, file)
        document = _toml(text, str(file))
        registry = cls.from_document(document, origin=str(file), text=lambda: text)
        _write_cache(cache_dir / CACHE_NAME, raw, document)  # valid: only now is it cached
        return registry

    @classmethod
    def from_toml(cls, text: str, origin: str = "<memory>") -> ProviderRegistry:
        """Parse the TOML text of a providers file; ``origin`` names it in errors."""
        return cls.from_document(_toml(text, origin), origin, text=lambda: text)

    @classmethod
    def from_document(
        cls, document: dict[str, Any], origin: str, text: Callable[[], str]
    ) -> ProviderRegistry:
        """The registry of a parsed providers document; ``text`` gives the file's text
        (only read to name the line of an invalid entry)."""
        schema = document.get("schema", 1)
        if schema != 1:
            raise ProvidersFileInvalid(f"{origin}: unsupported schema {schema!r} (expected 1)")
        table = document.get("providers")
        if not isinstance(table, dict) or not table:
            raise ProvidersFileInvalid(f"{origin}: no [providers.<id>] tables")
        providers: dict[str, Provider] = {}
        for provider_id, entry in table.items():
            try:
                providers[provider_id] = _parse_entry(provider_id, entry, "")
            except ProvidersFileInvalid:
                # only now find the line: a regex per entry is too dear for every start-up
                where = f"{origin}:{_line_of(text(), provider_id)}: [providers.{provider_id}]"
                providers[provider_id] = _parse_entry(provider_id, entry, where)
        return cls(providers, origin=origin)

    # ------------------------------------------------------------------ lookups

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._by_id.values())

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in self._by_id

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def get(self, provider_id: str) -> Provider | None:
        """The provider with this canonical id, or None."""
        return self._by_id.get(provider_id)

    def by_asn(self, asn: int) -> Provider | None:
        """The provider that operates this ASN, or None."""
        return self._by_asn.get(asn)

    def asn_is_verified(self, asn: int) -> bool:
        """True when the ASN is in a provider's ``asns`` list, not ``asns_uncertain``."""
        return asn in self._by_asn and asn not in self._uncertain_asns

    def by_org(self, org: str) -> Provider | None:
        """The provider whose ``org_patterns`` occur, as whole words, in an RDAP / AS
        organisation name ("OVH SAS" is OVH, "MOVHOST" is not)."""
        for _, pattern, provider in self._org_patterns:
            if pattern.search(org):
                return provider
        return None

    def operator_for(
        self,
        provider: str | None,
        asn: int | None,
        org: str | None = None,
        provider_basis: str = "provider-feed",
    ) -> Operator:
        """Who controls the address: a provider id (from a feed) wins over the ASN,
        which wins over a registrant/AS organisation name. ``basis`` says which decided.

        ``provider_basis`` names where ``provider`` came from (a feed, a hostname hint).
        """
        unlisted = ""
        if provider:
            known = self._by_id.get(provider)
            if known is not None:
                return known.operator(f"{provider_basis} {provider}")
            unlisted = f"{provider_basis} {provider} is not in providers.toml"
        if asn is not None:
            by_asn = self._by_asn.get(asn)
            if by_asn is not None:
                basis = f"asn AS{asn}"
                if asn in self._uncertain_asns:
                    basis += " (unverified ASN)"
                if unlisted:
                    basis += f"; {unlisted}"
                return by_asn.operator(basis)
        if org:
            by_org = self.by_org(org)
            if by_org is not None:
                basis = f"organisation {org!r}"
                if unlisted:
                    basis += f"; {unlisted}"
                return by_org.operator(basis)
        looked_at = []
        if asn is not None:
            looked_at.append(f"AS{asn}")
        if org:
            looked_at.append(repr(org))
        reason = unlisted or "no provider id"
        if looked_at:
            reason += f"; {' and '.join(looked_at)} not in providers.toml"
        return Operator(provider=provider or None, basis=f"unknown: {reason}")


# ---------------------------------------------------------------------- parsing

#: The parsed providers document kept in the compiled index folder: one line with the
#: XXH3-128 of the TOML bytes it was parsed from, one with the XXH3-64 of the JSON that
#: follows (so a damaged cache is reparsed, never believed), then that JSON.
CACHE_NAME = "providers.json"


def _decoded(raw: bytes, file: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProvidersFileInvalid(f"{file}: not UTF-8 text ({err.reason})") from err


def _toml(text: str, origin: str) -> dict[str, Any]:
    import tomllib  # here: its import compiles a dozen regexes; the cached path needs none

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ProvidersFileInvalid(f"{origin}: not valid TOML: {err}") from err


def _cached_document(cache: Path, raw: bytes) -> dict[str, Any] | None:
    """The document cached for exactly these TOML bytes, or None (absent, stale, damaged)."""
    from xxhash import xxh3_64_hexdigest, xxh3_128_hexdigest

    try:
        source, digest, body = cache.read_bytes().split(b"\n", 2)
        if source.decode() != xxh3_128_hexdigest(raw) or digest.decode() != xxh3_64_hexdigest(body):
            return None
        document = json.loads(body)
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _write_cache(cache: Path, raw: bytes, document: dict[str, Any]) -> None:
    """Keep the parsed document beside the index, if the folder can be written."""
    from xxhash import xxh3_64_hexdigest, xxh3_128_hexdigest

    try:
        body = json.dumps(document).encode()
    except TypeError:
        return  # a TOML date or time has no JSON form: parse the TOML each time
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
    try:
        tmp.write_bytes(f"{xxh3_128_hexdigest(raw)}\n{xxh3_64_hexdigest(body)}\n".encode() + body)
        os.replace(tmp, cache)
    except OSError:
        tmp.unlink(missing_ok=True)  # read-only index folder: parse the TOML each time


def _word_pattern(text: str) -> re.Pattern[str]:
    """Case-insensitive match of ``text`` not glued to letters or digits on either side
    (a side that ends in punctuation, like "AMAZON-", may be followed by anything)."""
    before = r"(?<![0-9a-z])" if text[:1].isalnum() else ""
    after = r"(?![0-9a-z])" if text[-1:].isalnum() else ""
    return re.compile(before + re.escape(text) + after, re.IGNORECASE)


def _line_of(text: str, provider_id: str) -> int:
    """The line of ``[providers.<id>]`` so errors point at the entry."""
    header = re.compile(rf"^\s*\[\s*providers\.\"?{re.escape(provider_id)}\"?\s*\]", re.M)
    found = header.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else 0


def _parse_entry(provider_id: str, entry: Any, where: str) -> Provider:
    if not _ID.match(provider_id):
        raise ProvidersFileInvalid(f"{where}: id must be lower case letters, digits and '-'")
    if not isinstance(entry, dict):
        raise ProvidersFileInvalid(f"{where}: must be a table")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ProvidersFileInvalid(f"{where}: unknown field {unknown[0]!r}")
    for key in _REQUIRED:
        if key not in entry:
            raise ProvidersFileInvalid(f"{where}: missing required field {key!r}")
    text_fields = {key: _text(entry, key, where) for key in (*_REQUIRED, "parent", "notes")}
    for key in ("jurisdiction", "incorporated"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not _CC.match(value)):
            raise ProvidersFileInvalid(
                f"{where}: {key!r} must be an ISO 3166-1 alpha-2 code like 'US', got {value!r}"
            )
    others = entry.get("other_jurisdictions", [])
    if not isinstance(others, list) or not all(isinstance(c, str) and _CC.match(c) for c in others):
        raise ProvidersFileInvalid(
            f"{where}: 'other_jurisdictions' must be a list of ISO 3166-1 alpha-2 codes"
        )
    if entry["kind"] not in KINDS:
        raise ProvidersFileInvalid(
            f"{where}: 'kind' must be one of {', '.join(sorted(KINDS))}, got {entry['kind']!r}"
        )
    if not str(entry["source"]).startswith(("https://", "http://")):
        raise ProvidersFileInvalid(f"{where}: 'source' must be a URL")
    return Provider(
        id=provider_id,
        name=str(text_fields["name"]),
        entity=str(text_fields["entity"]),
        jurisdiction=entry["jurisdiction"],
        kind=entry["kind"],
        source=str(text_fields["source"]),
        parent=text_fields["parent"],
        incorporated=entry.get("incorporated"),
        other_jurisdictions=tuple(others),
        cdn=_flag(entry, "cdn", where),
        anycast=_flag(entry, "anycast", where),
        asns=_asns(entry, "asns", where),
        asns_uncertain=_asns(entry, "asns_uncertain", where),
        org_patterns=_patterns(entry, where),
        notes=text_fields["notes"] or "",
    )


def _text(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ProvidersFileInvalid(f"{where}: {key!r} must be a non-empty string")
    return value.strip()


def _flag(entry: dict[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise ProvidersFileInvalid(f"{where}: {key!r} must be true or false, got {value!r}")
    return value


def _asns(entry: dict[str, Any], key: str, where: str) -> tuple[int, ...]:
    values = entry.get(key, [])
    if not isinstance(values, list):
        raise ProvidersFileInvalid(f"{where}: {key!r} must be a list of AS numbers")
    for value in values:
        # bool is an int in Python; true/false in a list of ASNs is a typo.
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_ASN:
            raise ProvidersFileInvalid(f"{where}: {key!r} holds {value!r}, not an AS number")
    if len(set(values)) != len(values):
        raise ProvidersFileInvalid(f"{where}: {key!r} lists an AS number twice")
    return tuple(values)


def _patterns(entry: dict[str, Any], where: str) -> tuple[str, ...]:
    values = entry.get("org_patterns", [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ProvidersFileInvalid(f"{where}: 'org_patterns' must be a list of non-empty strings")
    return tuple(v.strip() for v in values)
