"""Helpers shared by the feed parsers: strict JSON loading, network normalising, versions."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import re
import socket
from collections.abc import Iterable, Mapping
from typing import Any

import pycountry

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed, RangeRecord

#: The version given to a feed that carries none: a short content hash, so two
#: different snapshots never share a version and a claim can still be traced.
UNVERSIONED_PREFIX = "sha256:"

_SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def content_version(data: bytes) -> str:
    """A version marker for feeds without one: ``sha256:`` and 12 hex digits."""
    return UNVERSIONED_PREFIX + hashlib.sha256(data).hexdigest()[:12]


def decode_text(dataset: str, data: bytes) -> str:
    """UTF-8 text (a BOM is tolerated), or ``FeedInvalid`` naming the dataset."""
    if not data.strip():
        raise FeedInvalid(f"{dataset}: the file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedInvalid(
            f"{dataset}: not UTF-8 text (bad byte at offset {exc.start}); wrong file?"
        ) from None


def load_json(dataset: str, data: bytes) -> Any:
    """Parse JSON, turning a decode error into one clear ``FeedInvalid`` line."""
    text = decode_text(dataset, data)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        body = text.rstrip()
        truncated = exc.pos >= len(body) - 1 or body[-1:] not in ("}", "]")
        hint = " (truncated?)" if truncated else ""
        raise FeedInvalid(
            f"{dataset}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}"
        ) from None


def require_mapping(dataset: str, obj: Any, what: str = "the top level") -> Mapping[str, Any]:
    if not isinstance(obj, dict):
        raise FeedInvalid(f"{dataset}: expected a JSON object at {what}, got {_kind(obj)}")
    return obj


def require_list(dataset: str, obj: Mapping[str, Any], key: str, where: str = "") -> list[Any]:
    """``obj[key]`` as a list, or ``FeedInvalid`` naming the missing key."""
    if key not in obj:
        raise FeedInvalid(f"{dataset}: missing key {key!r}{where}; not a {dataset} feed?")
    value = obj[key]
    if not isinstance(value, list):
        raise FeedInvalid(f"{dataset}: {key!r}{where} should be a list, got {_kind(value)}")
    return value


def _kind(obj: object) -> str:
    if isinstance(obj, dict):
        return "an object"
    if isinstance(obj, list):
        return "a list"
    return "a string" if isinstance(obj, str) else type(obj).__name__


class NetworkNormaliser:
    """Turns CIDR text into canonical form, counting (not raising on) bad entries.

    Host bits are cleared (``10.0.0.1/8`` -> ``10.0.0.0/8``), as several feeds
    publish such entries. Results are cached because big feeds repeat prefixes.
    """

    def __init__(self) -> None:
        self._cache: dict[str, str | None] = {}
        self.bad: list[str] = []

    def __call__(self, text: object) -> str | None:
        if not isinstance(text, str):
            self.bad.append(repr(text))
            return None
        try:
            return self._cache[text]
        except KeyError:
            pass
        result = canonical_network(text)
        if result is None:
            self.bad.append(text)
        self._cache[text] = result
        return result

    def notes(self) -> tuple[str, ...]:
        if not self.bad:
            return ()
        sample = ", ".join(repr(b) for b in self.bad[:3])
        return (f"skipped {len(self.bad)} entries that are not IP networks (e.g. {sample})",)


def canonical_network(text: str) -> str | None:
    """``str(ipaddress.ip_network(text, strict=False))``, or None if not a network.

    Done with ``socket.inet_pton``/``inet_ntop`` because ``ipaddress`` costs
    10-25 us a prefix, which dominates parsing the large feeds; the result is
    the same canonical text (the tests check this against ``ipaddress``).
    """
    parsed = parse_network(text)
    return parsed[0] if parsed else None


def parse_network(text: str) -> tuple[str, bool] | None:
    """(canonical network, whether host bits were set), or None if not a network."""
    address, slash, length_text = text.strip().partition("/")
    v6 = ":" in address
    bits = 128 if v6 else 32
    if slash:
        if not length_text.isdigit() or len(length_text) > 3:
            return None
        length = int(length_text)
        if length > bits:
            return None
    else:
        length = bits
    if (v6 and "." in address) or "%" in address:
        return _slow_network(text)  # IPv4-mapped/embedded or scoped forms
    family = socket.AF_INET6 if v6 else socket.AF_INET
    try:
        packed = socket.inet_pton(family, address)
    except (OSError, ValueError):
        return None
    if (
        not v6
        and ".0" in "." + address
        and any(len(part) > 1 and part[0] == "0" for part in address.split("."))
    ):
        return None  # leading zeros are ambiguous (octal?); ipaddress refuses them too
    value = int.from_bytes(packed, "big")
    host_bits = bits - length
    network = (value >> host_bits) << host_bits
    if network != value:
        packed = network.to_bytes(bits // 8, "big")
    return f"{socket.inet_ntop(family, packed)}/{length}", network != value


def _slow_network(text: str) -> tuple[str, bool] | None:
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    host_bits = int(network.network_address) != int(ipaddress.ip_interface(text.strip()).ip)
    return str(network), host_bits


def valid_country(code: str) -> str | None:
    """Upper-case ISO alpha-2, mapping the common ``UK`` slip to ``GB``; else None."""
    code = code.strip().upper()
    if code == "UK":
        return "GB"
    return code if _COUNTRY.match(code) else None


#: User-assigned ISO 3166-1 codes accepted as countries. ``XK`` is Kosovo as the EU,
#: the IMF, SWIFT and the GeoIP databases write it; every other user-assigned or
#: reserved code (``ZZ`` "unknown", ``EU``, ``AP``, ``XA``...) names no country and
#: so may never decide a location.
ACCEPTED_USER_ASSIGNED = frozenset({"XK"})


@functools.cache
def iso_country(code: str) -> str | None:
    """``code`` upper-cased if it is an ISO 3166-1 alpha-2 country (or ``XK``), else None."""
    code = code.strip().upper()
    if not _COUNTRY.match(code):
        return None
    if code in ACCEPTED_USER_ASSIGNED or pycountry.countries.get(alpha_2=code) is not None:
        return code
    return None


@functools.cache
def iso_region(code: str, country: str) -> str | None:
    """The ISO 3166-2 code of a subdivision of ``country``, else None.

    ``code`` may omit the country part (``TX`` for ``US-TX``), as some feeds do.
    """
    code = code.strip().upper()
    if re.match(r"^[A-Z0-9]{1,3}$", code):
        code = f"{country}-{code}"
    if not _SUBDIVISION.match(code):
        return None
    return code if _subdivision_countries().get(code) == country else None


@functools.cache
def _subdivision_countries() -> dict[str, str]:
    """ISO 3166-2 code -> its country, from pycountry (read once, about 5000 codes)."""
    return {str(s.code): str(s.country_code) for s in pycountry.subdivisions}


def valid_subdivision(code: str, country: str | None) -> str | None:
    """An ISO 3166-2 code such as ``US-TX`` (country prefix required), else None."""
    code = code.strip().upper()
    if not code:
        return None
    if not _SUBDIVISION.match(code):
        if country and re.match(r"^[A-Z0-9]{1,3}$", code):
            return f"{country}-{code}"  # some feeds drop the country part
        return None
    return code


def finish(
    dataset: str, version: str, records: Iterable[RangeRecord], notes: Iterable[str] = ()
) -> ParsedFeed:
    """Build the result, refusing a feed that yielded nothing usable."""
    rows = tuple(records)
    if not rows:
        raise FeedInvalid(f"{dataset}: no IP ranges found; empty or wrong-format feed")
    return ParsedFeed(dataset=dataset, version=version, records=rows, notes=tuple(notes))
