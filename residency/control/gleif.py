"""Optional, opt-in: owners from GLEIF's public LEI records (CC0), asked at run time.

``--gleif`` asks the GLEIF API (``https://api.gleif.org/api/v1``) for an organisation whose
Legal Entity Identifier data/organisations.toml gives: its legal name and headquarters
country, then its direct parent, and so on up (bounded, cycle-safe). Requests go through
the RDAP request loop (residency.locate.registration.rdap_client over residency.http:
deadline, body cap, 429 backoff, 5xx retries, service cooldown), answers are cached in
memory and, with ``--db``, in the history store's key-value cache. A failure is a reason,
never an exception: the curated chain is used instead and the reason says why.

The JSON:API shapes read (GLEIF API v1, documented at https://api.gleif.org/docs):
``/lei-records/{lei}`` -> ``{"data": {"type": "lei-records", "id": LEI, "attributes":
{"lei", "entity": {"legalName": {"name"}, "legalAddress": {"country"},
"headquartersAddress": {"country"}}}}}``; ``/lei-records/{lei}/direct-parent`` -> the
parent's record in the same shape, or 404 when no parent is reported.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from residency.control.organisations import MAX_CHAIN
from residency.control.sanitize import clean_country, clean_text
from residency.errors import ResidencyError
from residency.model import OwnerLink
from residency.timefmt import utc_iso

if TYPE_CHECKING:
    from residency.http import Fetcher

DEFAULT_URL = "https://api.gleif.org/api/v1"
NAMESPACE = "gleif"
DEFAULT_TTL = 30 * 86400.0  # ownership changes slowly; a month's cache is fresh enough
LEI_LENGTH = 20


class KvCache(Protocol):
    """What the lookup needs from the history store (residency.store)."""

    def cache_get(self, namespace: str, key: str, now: float) -> tuple[str, float] | None: ...

    def cache_put(self, namespace: str, key: str, value: str, expires: float) -> None: ...


@dataclass(frozen=True)
class LeiRecord:
    lei: str
    name: str
    country: str | None  # headquarters country, else legal address country


def parse_record(document: Any) -> LeiRecord:
    """One GLEIF ``lei-records`` object; ``ValueError`` naming what is missing."""
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        raise ValueError("no 'data' object")
    data = document["data"]
    attributes = data.get("attributes")
    if not isinstance(attributes, dict) or not isinstance(attributes.get("entity"), dict):
        raise ValueError("no 'data.attributes.entity'")
    entity = attributes["entity"]
    lei = attributes.get("lei") or data.get("id")
    legal = entity.get("legalName")
    name = clean_text(legal.get("name")) if isinstance(legal, dict) else None
    if not isinstance(lei, str) or len(lei) != LEI_LENGTH or name is None:
        raise ValueError("no LEI or legal name")
    country = None
    for key in ("headquartersAddress", "legalAddress"):
        address = entity.get(key)
        if isinstance(address, dict) and (country := clean_country(address.get("country"))):
            break
    return LeiRecord(lei.upper(), name, country)


class GleifLookup:
    """LEI records and direct parents; ``chain(lei)`` never raises for network trouble."""

    def __init__(
        self,
        client: Fetcher | httpx.Client,
        base_url: str = DEFAULT_URL,
        cache: KvCache | None = None,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        from residency.locate.registration.rdap_client import RdapLookup

        self.transport = RdapLookup(client, base_url, timeout=timeout, budget=60.0)
        self.base_url = self.transport.base_url
        self.cache = cache
        self.clock = clock
        self.ttl = ttl
        self._memory: dict[str, str] = {}
        self._lock = threading.Lock()
        self._client = client
        self._owns_client = False

    @classmethod
    def open(cls, base_url: str | None = None, cache: KvCache | None = None) -> GleifLookup:
        from residency.http import Fetcher

        client = Fetcher()  # residency.http: one user agent, deadline, size cap, address check
        lookup = cls(client, base_url or DEFAULT_URL, cache)
        lookup._owns_client = True
        return lookup

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _get(self, path: str) -> str | LeiRecord | None:
        """A record, None for a 404 (none reported), or the reason it is unknown."""
        key = path
        with self._lock:
            cached = self._memory.get(key)
        if cached is None and self.cache is not None:
            try:
                row = self.cache.cache_get(NAMESPACE, key, self.clock())
            except ResidencyError:  # an unreadable cache costs a query, not the answer
                row = None
            cached = row[0] if row is not None else None
        if cached is not None:
            return self._decode(cached)
        from residency.model import Registration

        fetched = self.transport.fetch(f"{self.base_url}/{path}", path)
        if isinstance(fetched, Registration):
            reason = fetched.reason.replace("RDAP", "GLEIF")
            if "HTTP 404" in reason:
                self._remember(key, "null")
                return None
            return reason
        try:
            record = parse_record(json.loads(fetched.body))
        except (ValueError, RecursionError) as err:
            return f"malformed GLEIF answer for {path}: {err}"
        self._remember(key, json.dumps([record.lei, record.name, record.country]))
        return record

    @staticmethod
    def _decode(text: str) -> LeiRecord | None:
        value = json.loads(text)
        return None if value is None else LeiRecord(*value)

    def _remember(self, key: str, text: str) -> None:
        with self._lock:
            if len(self._memory) < 100_000:
                self._memory[key] = text
        if self.cache is not None:
            # a cache that cannot be written costs a query next run, not the answer
            with contextlib.suppress(ResidencyError):
                self.cache.cache_put(NAMESPACE, key, text, self.clock() + self.ttl)

    def record(self, lei: str) -> LeiRecord | str:
        found = self._get(f"lei-records/{lei}")
        if found is None:
            return f"GLEIF has no record of LEI {lei}"
        return found

    def chain(self, lei: str) -> tuple[tuple[OwnerLink, ...], str]:
        """The direct parents above ``lei`` (direct first) and why the chain stops short
        (``""`` when GLEIF reports no further parent)."""
        day = utc_iso()[:10]
        links: list[OwnerLink] = []
        seen = {lei}
        current = lei
        while True:
            parent = self._get(f"lei-records/{current}/direct-parent")
            if parent is None:
                return tuple(links), ""
            if isinstance(parent, str):
                return tuple(links), f"parent unknown: {parent}"
            if parent.lei in seen:
                return tuple(links), f"parent chain stops at a cycle ({parent.name} again)"
            if len(links) >= MAX_CHAIN:
                return tuple(links), f"parent chain cut after {MAX_CHAIN} steps"
            seen.add(parent.lei)
            source = f"GLEIF LEI {current} direct parent ({day})"
            links.append(OwnerLink(parent.name, parent.country, source, parent.lei))
            current = parent.lei
