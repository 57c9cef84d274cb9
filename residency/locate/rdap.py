"""Registration evidence: who registered an address block, from RDAP.

Transport is httpx (base URL configurable, ``$RESIDENCY_RDAP_URL``); parsing is
ipwhois's RDAP network and entity parsers. Registration is not location: the result
is a ``model.Registration`` kept beside the location, never merged into it.

Network trouble never raises: a 429 (after backing off), a 5xx, a timeout, a
malformed answer or an unreachable service each give ``Registration(status="unknown",
reason=...)``. Answers are cached by the network they cover (see ``rdap_cache``).
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from ipwhois.exceptions import InvalidEntityObject, InvalidNetworkObject
from ipwhois.rdap import _RDAPEntity, _RDAPNetwork

from residency import __version__
from residency.addresses import AddressError, parse_address
from residency.errors import ResidencyError
from residency.locate.rdap_cache import (
    MAX_PREFIX,
    IPAddress,
    MemoryRdapCache,
    RdapCache,
    RdapCacheError,
    SqliteRdapCache,
)
from residency.model import Evidence, EvidenceKind, Location, Registration
from residency.paths import RDAP_BUDGET_ENV, RDAP_URL_ENV, rdap_budget_setting, rdap_url_override
from residency.textsafe import find_surrogate
from residency.timefmt import utc_iso

#: A redirector that sends ``/ip/<address>`` to the registry (RIR) responsible for it.
DEFAULT_RDAP_URL = "https://rdap.org"

UNREACHABLE = "RDAP unreachable"
RATE_LIMITED = "rate limited"

_ACCEPT = "application/rdap+json, application/json;q=0.9"

#: An RDAP network answer is a few kB; anything past this is not one (and is not read).
MAX_BODY = 1024 * 1024
#: Redirect hops followed per lookup (rdap.org needs one).
MAX_REDIRECTS = 3
DEFAULT_BUDGET = 120.0
#: Redirects are followed only over https to these (the five RIRs' RDAP services) or
#: to the configured base URL's own scheme, host and port.
ALLOWED_REDIRECT_HOSTS = frozenset(
    {"rdap.arin.net", "rdap.db.ripe.net", "rdap.apnic.net", "rdap.lacnic.net", "rdap.afrinic.net"}
)

_RIR_BY_WHOIS = {
    "whois.arin.net": "ARIN",
    "whois.ripe.net": "RIPE NCC",
    "whois.apnic.net": "APNIC",
    "whois.lacnic.net": "LACNIC",
    "whois.afrinic.net": "AFRINIC",
}
_RIR_BY_HOST = {
    "rdap.arin.net": "ARIN",
    "rdap.db.ripe.net": "RIPE NCC",
    "rdap.apnic.net": "APNIC",
    "rdap.lacnic.net": "LACNIC",
    "rdap.afrinic.net": "AFRINIC",
}
_RIR_BY_HANDLE_SUFFIX = {
    "-ARIN": "ARIN",
    "-RIPE": "RIPE NCC",
    "-AP": "APNIC",
    "-APNIC": "APNIC",
    "-LACNIC": "LACNIC",
    "-AFRINIC": "AFRINIC",
    "-JPNIC": "APNIC",
    "-KRNIC": "APNIC",
}
_RIR_BY_SOURCE_NOTICE = {
    "ARIN": "ARIN",
    "RIPE": "RIPE NCC",
    "APNIC": "APNIC",
    "LACNIC": "LACNIC",
    "AFRINIC": "AFRINIC",
}

# vCard addresses spell countries out; RDAP servers in the ARIN region (which sends no
# network country) use these names. Anything else is left unknown rather than guessed.
_COUNTRY_NAMES = {
    "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US",
    "USA": "US",
    "CANADA": "CA",
    "PUERTO RICO": "PR",
    "BAHAMAS": "BS",
    "BARBADOS": "BB",
    "BERMUDA": "BM",
    "CAYMAN ISLANDS": "KY",
    "JAMAICA": "JM",
    "UNITED KINGDOM": "GB",
    "GERMANY": "DE",
    "FRANCE": "FR",
    "NETHERLANDS": "NL",
    "IRELAND": "IE",
    "JAPAN": "JP",
    "CHINA": "CN",
    "HONG KONG": "HK",
    "SINGAPORE": "SG",
    "INDIA": "IN",
    "AUSTRALIA": "AU",
    "BRAZIL": "BR",
    "MEXICO": "MX",
    "KOREA, REPUBLIC OF": "KR",
    "RUSSIAN FEDERATION": "RU",
    "SOUTH AFRICA": "ZA",
    "KENYA": "KE",
}


class RdapMalformed(ResidencyError):
    """An RDAP answer that is not a usable IP network object."""


class RdapUrlInvalid(ResidencyError):
    """The configured RDAP base URL cannot be used (a setting, not network trouble)."""


def rdap_budget(explicit: float | None = None) -> float:
    """Seconds the RDAP stage may take: explicit, ``$RESIDENCY_RDAP_BUDGET`` or 120."""
    if explicit is not None:
        return explicit
    raw = rdap_budget_setting()
    if raw is None or not raw.strip():
        return DEFAULT_BUDGET
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise RdapUrlInvalid(f"${RDAP_BUDGET_ENV}={raw!r}: must be a number of seconds above 0")
    return value


@dataclass(frozen=True)
class RdapAnswer:
    """A parsed RDAP network answer: the registration and the range it covers."""

    registration: Registration
    first: IPAddress
    last: IPAddress

    def covers(self, address: IPAddress) -> bool:
        return address.version == self.first.version and int(self.first) <= int(address) <= int(
            self.last
        )


@dataclass
class RdapStats:
    """What the lookups cost: how many went to the network, how many the cache saved."""

    lookups: int = 0  # addresses asked about
    cache_hits: int = 0  # answered from the CIDR cache: RDAP queries saved
    queries: int = 0  # HTTP requests sent (retries included)
    known: int = 0
    unknown: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    cache_errors: int = 0  # answers that could not be written to the cache
    last_cache_error: str = ""

    @property
    def saved(self) -> int:
        return self.cache_hits


def rdap_base_url(explicit: str | None = None) -> str:
    """The RDAP base URL: the explicit one, ``$RESIDENCY_RDAP_URL``, or the redirector.
    Raises ``RdapUrlInvalid`` for anything but an http(s) URL with a host."""
    from_env = rdap_url_override()
    base = (explicit or from_env or DEFAULT_RDAP_URL).strip().rstrip("/")
    origin = "" if explicit or not from_env else f" (from ${RDAP_URL_ENV})"
    try:
        parts = httpx.URL(base)
    except httpx.InvalidURL as err:
        raise RdapUrlInvalid(f"RDAP URL {base!r}{origin}: {err}") from err
    if parts.scheme not in ("http", "https") or not parts.host:
        raise RdapUrlInvalid(
            f"RDAP URL {base!r}{origin}: must be an http:// or https:// URL with a host"
        )
    return base


# ------------------------------------------------------------------------ parsing


def parse_rdap(document: Any, *, url: str | None = None, fetched: str | None = None) -> RdapAnswer:
    """Turn one RDAP IP network object (decoded JSON) into a known ``Registration``.

    ``url`` is where it came from (after redirects): it names the RIR when the answer
    itself does not. Raises ``RdapMalformed`` when the object is unusable.
    """
    if not isinstance(document, dict):
        raise RdapMalformed("not a JSON object")
    error_code = document.get("errorCode")
    if error_code is not None and "startAddress" not in document:
        title = _text(document, "title") or ""
        raise RdapMalformed(f"error object {error_code!s:.20} {title:.200}".strip())
    raw = document
    # ipwhois trusts the types of what it parses; it only ever sees a checked copy.
    document = _checked_network(document)
    network = _RDAPNetwork(document)
    try:
        network.parse()
    except InvalidNetworkObject as err:
        raise RdapMalformed(str(err)) from err
    info: Mapping[str, Any] = network.vars
    first, last = _range(info.get("start_address"), info.get("end_address"))

    entities = list(_entities(document.get("entities")))
    registrant = _registrant(entities)
    abuse = _first_email(e for e in entities if "abuse" in (e.roles or ()))
    org = registrant.name if registrant else None
    country = (registrant.country if registrant else None) or _country_code(info.get("country"))
    registration = Registration(
        status="known",
        network_name=_clean(info.get("name")),
        handle=_clean(info.get("handle")),
        cidr=_clean(info.get("cidr")) or _cidr_text(first, last),
        org=org,
        country=country,
        rir=_rir(document, url, [_clean(info.get("handle")), *(e.handle for e in entities)]),
        abuse_email=abuse,
        source=f"rdap {url}" if url else "rdap",
        fetched=fetched,
        geofeed=geofeed_link(raw),
    )
    return RdapAnswer(registration, first, last)


_GEOFEED_REMARK = re.compile(r"^\s*geofeed:?\s+(https?://\S+)\s*$", re.IGNORECASE)


def geofeed_link(document: Mapping[str, Any]) -> str | None:
    """The RFC 9092 geofeed URL of a network object: a ``links`` entry with ``rel``
    "geo" (RIPE serves the ``geofeed:`` attribute so), else a ``Geofeed https://...``
    remark line. Entries of the wrong type are ignored: a geofeed is optional."""
    links = document.get("links")
    for link in links if isinstance(links, list) else ():
        if isinstance(link, dict) and link.get("rel") == "geo":
            href = link.get("href")
            if isinstance(href, str) and href.strip().lower().startswith(("https://", "http://")):
                return href.strip()
    remarks = document.get("remarks")
    for remark in remarks if isinstance(remarks, list) else ():
        lines = remark.get("description") if isinstance(remark, dict) else None
        for line in lines if isinstance(lines, list) else ():
            match = _GEOFEED_REMARK.match(line) if isinstance(line, str) else None
            if match:
                return match.group(1)
    return None


_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return _KINDS.get(type(value), type(value).__name__)


def _text(obj: Mapping[str, Any], key: str, path: str = "") -> str | None:
    """A string field, absent as None; any other type is a malformed answer."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise RdapMalformed(f"{path}{key} is {_kind(value)}, not a string")


def _items(obj: Mapping[str, Any], key: str, path: str = "") -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RdapMalformed(f"{path}{key} is {_kind(value)}, not a list")
    return value


def _objects(obj: Mapping[str, Any], key: str, path: str = "") -> list[dict[str, Any]]:
    items = _items(obj, key, path)
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise RdapMalformed(f"{path}{key}[{n}] is {_kind(item)}, not an object")
    return items


_NETWORK_TEXT = ("handle", "startAddress", "endAddress", "ipVersion", "name", "type", "country")
_VCARD_TEXT = {"fn", "kind", "email"}


def _checked_network(document: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a network object that are read, each checked for its type."""
    checked: dict[str, Any] = {k: v for k in _NETWORK_TEXT if (v := _text(document, k))}
    port43 = _text(document, "port43")
    if port43:
        checked["port43"] = port43
    notices = []
    for n, notice in enumerate(_objects(document, "notices")):
        path = f"notices[{n}]."
        lines = _items(notice, "description", path)
        if not all(isinstance(line, str) for line in lines):
            raise RdapMalformed(f"{path}description holds a non-string")
        notices.append({"title": _text(notice, "title", path), "description": lines})
    checked["notices"] = notices
    checked["entities"] = _checked_entities(document, "", 0)
    return checked


def _checked_entities(obj: Mapping[str, Any], path: str, depth: int) -> list[dict[str, Any]]:
    if depth > 4:
        return []  # deeper entities are never read (see _entities)
    out = []
    for n, entity in enumerate(_objects(obj, "entities", path)):
        here = f"{path}entities[{n}]."
        roles = _items(entity, "roles", here)
        if not all(isinstance(r, str) for r in roles):
            raise RdapMalformed(f"{here}roles holds a non-string")
        clean: dict[str, Any] = {"roles": roles}
        handle = _text(entity, "handle", here)
        if handle:
            clean["handle"] = handle
        vcard = entity.get("vcardArray")
        if vcard is not None:
            clean["vcardArray"] = ["vcard", _checked_vcard(vcard, f"{here}vcardArray")]
        clean["entities"] = _checked_entities(entity, here, depth + 1)
        out.append(clean)
    return out


def _checked_vcard(vcard: Any, path: str) -> list[list[Any]]:
    if not isinstance(vcard, list) or len(vcard) < 2 or not isinstance(vcard[1], list):
        raise RdapMalformed(f"{path} is not a vCard")
    props = []
    for n, prop in enumerate(vcard[1]):
        if not isinstance(prop, list) or len(prop) < 4 or not isinstance(prop[0], str):
            raise RdapMalformed(f"{path}[1][{n}] is not a vCard property")
        name, params, value = prop[0], prop[1] if isinstance(prop[1], dict) else {}, prop[3]
        params = {k: v for k, v in params.items() if k in ("cc", "label") and isinstance(v, str)}
        if name in _VCARD_TEXT:
            if not isinstance(value, str):
                raise RdapMalformed(f"{path}[1][{n}] ({name}) is {_kind(value)}, not a string")
            props.append([name, params, "text", value])
        elif name == "adr":
            parts = value if isinstance(value, list) else [value]
            if not all(isinstance(p, str) for p in parts):
                parts = [p if isinstance(p, str) else "" for p in parts]
            props.append([name, params, "text", parts])
    return props


@dataclass(frozen=True)
class _Entity:
    handle: str
    roles: tuple[str, ...]
    name: str | None
    kind: str | None
    emails: tuple[str, ...]
    country: str | None


def _entities(raw: Any, depth: int = 0) -> Iterator[_Entity]:
    """Every entity, nested ones too (registries put the abuse contact inside the org)."""
    if not isinstance(raw, list) or depth > 4:
        return
    for item in raw:
        if not isinstance(item, dict):
            continue
        parsed = _RDAPEntity(item)
        try:
            parsed.parse()
        except InvalidEntityObject:
            continue  # an entity without a handle names nobody; its children may
        else:
            info = parsed.vars
            contact = info.get("contact") or {}
            roles = info.get("roles") or ()
            emails = tuple(
                str(e["value"]).strip()
                for e in contact.get("email") or ()
                if isinstance(e, dict) and e.get("value")
            )
            yield _Entity(
                handle=str(info["handle"]),
                roles=tuple(str(r).lower() for r in roles) if isinstance(roles, list) else (),
                name=_clean(contact.get("name")),
                kind=_clean(contact.get("kind")),
                emails=emails,
                country=_vcard_country(item.get("vcardArray")),
            )
        yield from _entities(item.get("entities"), depth + 1)


def _registrant(entities: Sequence[_Entity]) -> _Entity | None:
    """The organisation holding the block: the registrant role, else an org entity."""
    for entity in entities:
        if "registrant" in entity.roles and entity.name:
            return entity
    for entity in entities:
        # Some registries write the handle as the vCard name; that names nobody.
        if entity.kind == "org" and entity.name and entity.name != entity.handle:
            return entity
    return None


def _first_email(entities: Iterable[_Entity]) -> str | None:
    for entity in entities:
        if entity.emails:
            return entity.emails[0]
    return None


def _vcard_country(vcard: Any) -> str | None:
    """The country of a vCard address: RFC 8605 ``cc``, the structured field or label."""
    try:
        properties = vcard[1]
    except (TypeError, IndexError, KeyError):
        return None
    if not isinstance(properties, list):
        return None
    for prop in properties:
        if not isinstance(prop, list) or len(prop) < 4 or prop[0] != "adr":
            continue
        params = prop[1] if isinstance(prop[1], dict) else {}
        code = _country_code(params.get("cc"))
        if code:
            return code
        value = prop[3]
        if isinstance(value, list) and len(value) >= 7 and isinstance(value[6], str):
            code = country_name(value[6])
            if code:
                return code
        label = params.get("label")
        if isinstance(label, str) and label.strip():
            code = country_name(label.replace("\\n", "\n").strip().splitlines()[-1])
            if code:
                return code
    return None


def country_name(text: str) -> str | None:
    """The ISO country code of a country name or code as RDAP writes it, or None."""
    text = text.strip().rstrip(".").upper()
    return _COUNTRY_NAMES.get(text) or _country_code(text)


def _country_code(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{2}", value.strip()):
        return value.strip().upper()
    return None


def _rir(document: Mapping[str, Any], url: str | None, handles: Sequence[str | None]) -> str | None:
    port43 = document.get("port43")
    if isinstance(port43, str) and port43.strip().lower() in _RIR_BY_WHOIS:
        return _RIR_BY_WHOIS[port43.strip().lower()]
    if url:
        host = (urlsplit(url).hostname or "").lower()
        if host in _RIR_BY_HOST:
            return _RIR_BY_HOST[host]
    for handle in handles:
        upper = (handle or "").upper()
        for suffix, rir in _RIR_BY_HANDLE_SUFFIX.items():
            if upper.endswith(suffix):
                return rir
    for notice in document.get("notices") or ():
        if isinstance(notice, dict) and notice.get("title") == "Source":
            for line in notice.get("description") or ():
                if isinstance(line, str) and line.strip().upper() in _RIR_BY_SOURCE_NOTICE:
                    return _RIR_BY_SOURCE_NOTICE[line.strip().upper()]
    return None


def _range(start: Any, end: Any) -> tuple[IPAddress, IPAddress]:
    try:
        first = ipaddress.ip_address(str(start).split("/")[0].strip())
        last = ipaddress.ip_address(str(end).split("/")[0].strip())
    except ValueError as err:
        raise RdapMalformed(f"bad network range {start!r} - {end!r}") from err
    if first.version != last.version or int(first) > int(last):
        raise RdapMalformed(f"bad network range {start!r} - {end!r}")
    return first, last


def _cidr_text(first: IPAddress, last: IPAddress) -> str:
    return ", ".join(str(n) for n in ipaddress.summarize_address_range(first, last))


def _clean(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


# ------------------------------------------------------------------------ lookup


def unknown(reason: str) -> Registration:
    """Registration facts we could not establish, and why."""
    return Registration(status="unknown", reason=reason)


class RdapLookup:
    """RDAP registration facts for addresses, through httpx, a CIDR cache and limits.

    ``concurrency`` caps simultaneous requests and ``qps`` (optional) paces them; a
    429 makes every worker wait (``Retry-After`` or exponential backoff) up to
    ``retries`` times, then that address is "unknown (rate limited)". After
    ``unreachable_after`` consecutive transport failures the service is treated as
    down for ``cooldown`` seconds, so an audit without RDAP does not wait out a
    timeout per address.
    """

    def __init__(
        self,
        client: httpx.Client,
        base_url: str | None = None,
        cache: RdapCache | None = None,
        *,
        concurrency: int = 4,
        timeout: float | None = 10.0,
        retries: int = 2,
        backoff: float = 1.0,
        max_wait: float = 30.0,
        qps: float | None = None,
        unreachable_after: int = 3,
        cooldown: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        budget: float | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = client
        self.base_url = rdap_base_url(base_url)
        self.cache: RdapCache = cache if cache is not None else MemoryRdapCache()
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.qps = qps
        self.unreachable_after = unreachable_after
        self.cooldown = cooldown
        self._sleep = sleep
        self._clock = clock
        self._slots = threading.BoundedSemaphore(concurrency)
        self._state = threading.Lock()
        self._block_locks: dict[tuple[int, int], threading.Lock] = {}
        self._not_before = 0.0  # a 429 pauses every worker until then
        self._next_send = 0.0  # with ``qps``: the earliest time of the next request
        self._down_until = 0.0
        self._down_reason = UNREACHABLE
        self._transport_failures = 0
        self.stats = RdapStats()
        self._owns_client = False
        self.budget = rdap_budget(budget)
        self._stage_end: float | None = None  # set by the first network lookup

    @classmethod
    def open(
        cls,
        base_url: str | None = None,
        cache: RdapCache | None = None,
        *,
        timeout: float = 10.0,
        concurrency: int = 4,
        user_agent: str | None = None,
    ) -> RdapLookup:
        """A lookup with its own httpx client (closed by ``close()``) and, unless given,
        the persistent SQLite cache in the user cache directory."""
        client = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": user_agent or f"residency/{__version__} (RDAP lookups)"},
        )
        problem = ""
        if cache is None:
            try:
                cache = SqliteRdapCache()
            except RdapCacheError as err:
                # An unwritable cache directory slows lookups down; it must not stop them.
                cache, problem = MemoryRdapCache(), str(err)
        try:
            lookup = cls(client, base_url, cache, timeout=timeout, concurrency=concurrency)
        except BaseException:
            client.close()
            raise
        lookup._owns_client = True
        if problem:
            lookup.stats.cache_errors, lookup.stats.last_cache_error = 1, problem
        return lookup

    def close(self) -> None:
        """Close the HTTP client if this lookup opened it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> RdapLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or self.base_url

    def share_stage(self, end: float) -> None:
        """End this lookup's stage at ``end`` (its clock): lookups of one run that talk to
        several servers (the domain registries) share one time budget."""
        with self._state:
            self._stage_end = end

    # -------------------------------------------------------------- public

    def lookup(self, ip: str) -> Registration:
        """Registration facts for one address; never raises for network trouble."""
        address = _parse_address(ip)
        if address is None:
            return self._finish(unknown(f"not an IP address: {ip!r}"))
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:a.b.c.d is registered as a.b.c.d
        # The cache never holds special-purpose space (see _public_pieces), so a hit
        # needs no is_global check, which costs more than the rest of a hit.
        cached = self.cache.find(self.base_url, address.version, int(address))
        if cached is not None:
            return self._finish(cached, hit=True)
        if not address.is_global or address.is_multicast:
            return self._finish(unknown("not a public address: no RDAP registration"))
        # Addresses of one block arriving together wait for the first answer instead
        # of each querying the registry: one lock per /16 (IPv4) or /32 (IPv6).
        with self._block_lock(address):
            cached = self.cache.find(self.base_url, address.version, int(address))
            if cached is not None:
                return self._finish(cached, hit=True)
            return self._finish(self._fetch(address))

    def lookup_many(
        self, ips: Iterable[str], workers: int | None = None
    ) -> dict[str, Registration]:
        """Look up many addresses with up to ``workers`` threads (default: the cap)."""
        unique = list(dict.fromkeys(ips))
        with ThreadPoolExecutor(max_workers=workers or self.concurrency) as pool:
            return dict(zip(unique, pool.map(self.lookup, unique), strict=True))

    # ------------------------------------------------------------- internals

    def _fetch(self, address: IPAddress) -> Registration:
        fetched = self.fetch(f"{self.base_url}/ip/{address}", str(address))
        if isinstance(fetched, Registration):
            return fetched
        return self._parse(fetched, address)

    def fetch(self, url: str, subject: str) -> RdapFetched | Registration:
        """GET one RDAP ``url`` (about ``subject``) under this lookup's limits: service
        cooldown, stage budget, per-lookup deadline, 429 backoff, 5xx retries, allowed
        redirects and body cap. A 2xx answer comes back read; anything else is an unknown
        ``Registration`` whose reason says why. Also used for domain lookups
        (``residency.locate.domain_rdap``), one lookup per registry server."""
        down = self._service_down()
        if down:
            return unknown(down)
        now = self._clock()
        with self._state:
            if self._stage_end is None:
                self._stage_end = now + self.budget
            stage_end = self._stage_end
        if now >= stage_end:
            return unknown(self._budget_spent)
        # One deadline for the whole lookup (redirects, retries, slow bodies), cut
        # short by the stage budget.
        per_lookup = self.timeout if self.timeout is not None else self.budget
        deadline = min(now + per_lookup, stage_end)
        for attempt in range(self.retries + 1):
            self._wait_for_rate_limit()
            with self._slots:
                self._count("queries")
                fetched = self._get(url, deadline, stage_end)
            if isinstance(fetched, Registration):
                return fetched
            response = fetched
            self._transport_ok()
            status = response.status_code
            final_host = response.url.host or self.host
            last_try = attempt == self.retries or self._clock() >= deadline
            if status == 429 or _is_rate_limit_body(status, response.body):
                wait = _retry_after(response.headers.get("Retry-After"))
                if wait is None:
                    wait = self.backoff * 2**attempt
                if last_try or wait > self.max_wait:
                    return unknown(
                        f"{RATE_LIMITED}: HTTP 429 from {final_host}; retry after {wait:g}s"
                    )
                self._pause_all(wait)
                continue
            if status >= 500:
                if last_try:
                    return unknown(f"RDAP server error: HTTP {status} from {final_host}")
                self._sleep(self.backoff * 2**attempt)
                continue
            if status == 404:
                return unknown(f"no RDAP registration for {subject} (HTTP 404 from {final_host})")
            if status >= 400:
                return unknown(f"RDAP refused the query: HTTP {status} from {final_host}")
            if not 200 <= status < 300:
                return unknown(f"unexpected RDAP answer: HTTP {status} from {final_host}")
            return response
        raise AssertionError("unreachable: the loop always returns")  # pragma: no cover

    def _parse(self, response: RdapFetched, address: IPAddress) -> Registration:
        host = response.url.host or self.host
        try:
            document = json.loads(response.body)
        except RecursionError:
            return unknown(f"malformed RDAP response from {host}: JSON nested too deeply")
        except ValueError:
            return unknown(f"malformed RDAP response from {host}: not JSON")
        broken = find_surrogate(document)
        if broken is not None:  # refused here, so never cached: no encoder can write it
            return unknown(f"malformed RDAP response from {host}: unpaired surrogate at {broken}")
        try:
            answer = parse_rdap(document, url=str(response.url), fetched=_now())
        except RdapMalformed as err:
            return unknown(f"malformed RDAP response from {host}: {err}")
        except RecursionError:
            return unknown(f"malformed RDAP response from {host}: nested too deeply")
        if not answer.covers(address):
            # A network that does not hold the address describes something else.
            return unknown(
                f"implausible RDAP answer from {host}: network"
                f" {_cidr_text(answer.first, answer.last)} does not contain {address}"
            )
        size = int(answer.last) - int(answer.first) + 1
        if size > 1 << (answer.first.max_prefixlen - MAX_PREFIX[address.version]):
            return unknown(
                f"implausible RDAP answer from {host}: network"
                f" {_cidr_text(answer.first, answer.last)} is implausibly wide"
                f" (wider than /{MAX_PREFIX[address.version]})"
            )
        pieces = _public_pieces(answer.first, answer.last)
        try:
            for first, last in pieces:
                self.cache.put(self.base_url, first, last, answer.registration)
        except ResidencyError as err:
            # A cache that cannot be written costs speed, never the answer or the audit.
            with self._state:
                self.stats.cache_errors += 1
                self.stats.last_cache_error = str(err)
        return answer.registration

    def _get(self, url: str, deadline: float, stage_end: float) -> RdapFetched | Registration:
        """GET ``url`` following allowed redirects, reading at most ``MAX_BODY`` bytes,
        all before ``deadline``; network trouble becomes an unknown ``Registration``."""
        seen = {url}
        for _hop in range(MAX_REDIRECTS + 1):
            remaining = deadline - self._clock()
            if remaining <= 0:
                return self._deadline_passed(deadline, stage_end)
            read = min(self.timeout, remaining) if self.timeout is not None else remaining
            try:
                request = self.client.build_request(
                    "GET", url, headers={"Accept": _ACCEPT}, timeout=httpx.Timeout(read)
                )
                response = self.client.send(request, stream=True, follow_redirects=False)
            except httpx.TimeoutException:
                if deadline >= stage_end and self._clock() >= deadline - 0.05:
                    return unknown(self._budget_spent)
                limit = f"within {self.timeout:g}s" if self.timeout else "in time"
                return self._transport_failed(f"{UNREACHABLE}: no answer from {self.host} {limit}")
            except httpx.HTTPError as err:
                return self._transport_failed(
                    f"{UNREACHABLE}: {self.host}: {type(err).__name__}"
                    + (f": {err}" if str(err) else "")
                )
            try:
                if response.is_redirect:
                    target = str(response.url.join(response.headers.get("Location", "")))
                    refused = self._redirect_refused(target)
                    if refused:
                        return unknown(f"RDAP redirect to {target} refused: {refused}")
                    if target in seen:
                        return unknown(f"RDAP redirect loop at {target}")
                    seen.add(target)
                    url = target
                    continue
                body = bytearray()
                try:
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY:
                            return unknown(
                                f"RDAP answer from {response.url.host} larger than 1 MiB: not read"
                            )
                        if self._clock() >= deadline:
                            return self._deadline_passed(deadline, stage_end)
                except httpx.TimeoutException:
                    return self._deadline_passed(deadline, stage_end)
                except httpx.HTTPError as err:
                    return self._transport_failed(
                        f"{UNREACHABLE}: {self.host}: {type(err).__name__}"
                        + (f": {err}" if str(err) else "")
                    )
            finally:
                response.close()
            self._transport_ok()
            return RdapFetched(response.status_code, response.url, response.headers, bytes(body))
        return unknown(f"RDAP redirects: more than {MAX_REDIRECTS} hops from {self.base_url}")

    def _redirect_refused(self, target: str) -> str | None:
        """Why a redirect may not be followed, or None: https to an RIR's RDAP host, or
        the configured base URL's own scheme, host and port."""
        try:
            where = httpx.URL(target)
        except httpx.InvalidURL:
            return "not a URL"
        base = httpx.URL(self.base_url)
        if (where.scheme, where.host, where.port) == (base.scheme, base.host, base.port):
            return None
        if where.scheme == "https" and where.host in ALLOWED_REDIRECT_HOSTS:
            return None
        return "not https to an RIR RDAP host or the configured RDAP service"

    def _deadline_passed(self, deadline: float, stage_end: float) -> Registration:
        if deadline >= stage_end:
            return unknown(self._budget_spent)
        return self._transport_failed(
            f"{UNREACHABLE}: {self.host} still answering at the lookup deadline of"
            f" {self.timeout:g}s"
        )

    @property
    def _budget_spent(self) -> str:
        return f"RDAP stage time budget of {self.budget:g}s spent"

    def _finish(self, registration: Registration, hit: bool = False) -> Registration:
        with self._state:
            stats = self.stats
            stats.lookups += 1
            if hit:
                stats.cache_hits += 1
            if registration.status == "known":
                stats.known += 1
            else:
                stats.unknown += 1
                key = registration.reason.split(":")[0]
                stats.reasons[key] = stats.reasons.get(key, 0) + 1
        return registration

    def _count(self, name: str) -> None:
        with self._state:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def _block_lock(self, address: IPAddress) -> threading.Lock:
        key = (address.version, int(address) >> (16 if address.version == 4 else 96))
        with self._state:
            lock = self._block_locks.get(key)
            if lock is None:
                lock = self._block_locks[key] = threading.Lock()
            return lock

    def _service_down(self) -> str | None:
        with self._state:
            if self._clock() < self._down_until:
                return self._down_reason
        return None

    def _transport_failed(self, reason: str) -> Registration:
        with self._state:
            self._transport_failures += 1
            if self._transport_failures >= self.unreachable_after:
                self._down_until = self._clock() + self.cooldown
                self._down_reason = f"{reason} (not retried for {self.cooldown:g}s)"
        return unknown(reason)

    def _transport_ok(self) -> None:
        with self._state:
            self._transport_failures = 0

    def _pause_all(self, seconds: float) -> None:
        with self._state:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def _wait_for_rate_limit(self) -> None:
        """Wait out a 429 pause, then take the next send slot when ``qps`` paces requests."""
        reserved = False
        while True:
            with self._state:
                now = self._clock()
                if now < self._not_before:
                    wait = self._not_before - now
                elif reserved or not self.qps:
                    return
                else:
                    # Reserve the slot under the lock so concurrent workers queue behind it.
                    slot = max(now, self._next_send)
                    self._next_send = slot + 1.0 / self.qps
                    reserved = True
                    wait = slot - now
                    if wait <= 0:
                        return
            self._sleep(wait)


# Special-purpose space (IANA registries, RFC 6890 and later), kept out of the cache
# so that an answer for a wide block never makes a private or documentation address
# look registered. Over-inclusive is harmless: those addresses are simply not cached.
_SPECIAL_PURPOSE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/127",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)
_SPECIAL_RANGES = {
    version: sorted(
        (int(n.network_address), int(n.broadcast_address))
        for n in _SPECIAL_PURPOSE
        if n.version == version
    )
    for version in (4, 6)
}


def _public_pieces(first: IPAddress, last: IPAddress) -> list[tuple[IPAddress, IPAddress]]:
    """``first``..``last`` minus special-purpose space, as address ranges."""
    make = ipaddress.IPv4Address if first.version == 4 else ipaddress.IPv6Address
    pieces: list[tuple[IPAddress, IPAddress]] = []
    cursor, end = int(first), int(last)
    for low, high in _SPECIAL_RANGES[first.version]:
        if high < cursor or low > end:
            continue
        if low > cursor:
            pieces.append((make(cursor), make(low - 1)))
        cursor = max(cursor, high + 1)
    if cursor <= end:
        pieces.append((make(cursor), make(end)))
    return pieces


def _parse_address(text: str) -> IPAddress | None:
    """An address from text under ``residency.addresses``' rules (a zone id is dropped:
    the registration is the same on every link); None for a non-address."""
    try:
        address = parse_address(text)
    except AddressError:
        return None
    if address.version == 6:
        return ipaddress.IPv6Address(address.packed)
    return ipaddress.IPv4Address(address.packed)


def _is_rate_limit_body(status: int, content: bytes) -> bool:
    """Some registries signal rate limiting in an RDAP error object, not the status."""
    if status != 200 or b"errorCode" not in content[:4096]:
        return False
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return False
    return isinstance(body, dict) and body.get("errorCode") == 429


@dataclass(frozen=True)
class RdapFetched:
    """One HTTP answer read within the limits."""

    status_code: int
    url: httpx.URL
    headers: httpx.Headers
    body: bytes


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _now() -> str:
    return utc_iso()


# ------------------------------------------------------------------- presentation


def registration_evidence(registration: Registration) -> Evidence | None:
    """The registration as an ``Evidence`` of kind REGISTRATION, for the evidence list.

    It deliberately carries no ``place``: the registrant's country is where the holder
    is registered, not where the address is, so it must not vote on the location.
    """
    if registration.status != "known":
        return None
    detail = [f"registered to {registration.org}"] if registration.org else []
    if registration.country:
        detail.append(f"registrant country {registration.country}")
    if registration.rir:
        detail.append(f"via {registration.rir}")
    return Evidence(
        source="rdap",
        kind=EvidenceKind.REGISTRATION,
        version=registration.fetched or "",
        prefix=(registration.cidr or "").split(",")[0].strip() or None,
        org=registration.org,
        note="; ".join(detail) or (registration.network_name or ""),
    )


def describe(registration: Registration | None, location: Location | None) -> str:
    """Registration and location side by side, never merged:
    ``"registered to Xiaomi Inc., CN; hosted in SG"``."""
    if registration is None:
        registered = "registration not looked up"
    elif registration.status != "known":
        registered = f"registration unknown ({registration.reason or 'no reason given'})"
    elif registration.org or registration.country:
        who = registration.org or registration.network_name or "an unnamed holder"
        registered = f"registered to {who}" + (
            f", {registration.country}" if registration.country else ""
        )
    else:
        registered = f"registered as {registration.network_name or registration.handle}"
    if location is None:
        hosted = "location not determined"
    elif location.place is None:
        hosted = f"hosted: unknown ({location.why or location.basis})"
    else:
        hosted = f"hosted in {location.place.country}"
    return f"{registered}; {hosted}"
