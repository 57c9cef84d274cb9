"""Who registered an endpoint's domain: RDAP domain objects (RFC 9083), redaction (RFC 9537).

The registrable domain comes from the bundled public suffix list, its registry's RDAP
server from the IANA bootstrap (``residency.datasets.rdap_bootstrap``). The request
plumbing (limits, 429 backoff, 5xx retries, redirects, body cap, cooldown) is the IP
lookup's own: one ``RdapLookup`` per registry server, sharing one httpx client.

Registries contact nobody on the audited side: this is opt-in with ``--rdap``, like the
IP lookups. A registrant the registry withholds, or one that is a privacy/proxy service,
is "redacted" (a fact about the data), never "unknown"; every failure is "unknown" with
its reason. Answers are cached per domain in the store's key-value cache when a history
store is open, else for the run.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Protocol

import httpx

from residency.datasets.rdap_bootstrap import DnsBootstrap, load_bootstrap
from residency.endpoints.domain import registrable_domain
from residency.errors import ResidencyError
from residency.http import Fetcher
from residency.locate.registration.rdap_cache import DEFAULT_TTL
from residency.locate.registration.rdap_client import RdapFetched, RdapLookup
from residency.locate.registration.rdap_parse import RdapMalformed, country_name
from residency.model import Registrant, Registration
from residency.paths import DOMAIN_RDAP_URL_ENV, domain_rdap_url_override
from residency.textsafe import find_surrogate
from residency.timefmt import utc_iso

#: Key-value cache namespace (``residency.store`` ``kv_cache``).
NAMESPACE = "rdap-domain"
#: Nested entities read, as for IP answers; deeper ones are ignored.
MAX_DEPTH = 4

# Values registries and registrars write instead of the registrant, and the names of
# privacy/proxy services that register on the holder's behalf: neither names the
# controller, so both count as redacted.
_WITHHELD = re.compile(
    r"redact|withheld|privacy|proxy|not disclosed|non-public|data protected|gdpr"
    r"|whoisguard|domains by proxy|statutory masking|hidden",
    re.IGNORECASE,
)


class KvCache(Protocol):
    """The key-value methods of ``residency.store.Store`` (typed structurally, so locate/
    does not import store/)."""

    def cache_get(
        self, namespace: str, key: str, now: float | None = None
    ) -> tuple[str, float | None] | None: ...

    def cache_put(
        self, namespace: str, key: str, value_json: str, expires: float | None
    ) -> None: ...


def unknown(domain: str | None, reason: str) -> Registrant:
    return Registrant(domain=domain, status="unknown", reason=reason)


# ------------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class _Contact:
    org: str | None
    country: str | None
    withheld: tuple[str, ...]  # what this contact withholds ("organisation", "name", ...)


def parse_domain(document: Any, domain: str, server: str, fetched: str) -> Registrant:
    """One RDAP domain object (decoded JSON) -> its registrant. Raises ``RdapMalformed``
    for anything that is not a domain object. A missing registrant is "unknown"."""
    if not isinstance(document, dict):
        raise RdapMalformed("not a JSON object")
    if "errorCode" in document:
        raise RdapMalformed(f"error object {document.get('errorCode')!s:.20}")
    kind = document.get("objectClassName")
    if kind is not None and kind != "domain":
        raise RdapMalformed(f"objectClassName is {str(kind)[:40]!r}, not 'domain'")
    name = document.get("ldhName")
    if name is not None and not isinstance(name, str):
        raise RdapMalformed("ldhName is not a string")
    redacted = _redacted_registrant(document.get("redacted"))
    contacts = [_contact(e) for e in _entities(document.get("entities"), "registrant")]
    found = Registrant(domain=domain, status="known", server=server, fetched=fetched)
    for contact in contacts:
        if contact.org and not contact.withheld:
            return replace(found, org=contact.org, country=contact.country)
    withheld = [w for c in contacts for w in c.withheld] + redacted
    country = next((c.country for c in contacts if c.country), None)
    if withheld:
        what = ", ".join(dict.fromkeys(withheld))
        return replace(found, status="redacted", reason=f"withheld: {what}", country=country)
    if contacts:
        return replace(found, country=country, reason="the registrant entity names no organisation")
    return replace(found, status="unknown", reason=f"{server} publishes no registrant for {domain}")


def related_link(document: Any, answered: str) -> str | None:
    """The registrar's RDAP URL a thin registry points to (``rel: related``): https, or
    the same origin as the registry URL that ``answered``."""
    links = document.get("links") if isinstance(document, dict) else None
    origin = httpx.URL(answered)
    for link in links if isinstance(links, list) else ():
        if not isinstance(link, dict) or link.get("rel") != "related":
            continue
        href, media = link.get("href"), link.get("type")
        if not isinstance(href, str) or "/domain/" not in href:
            continue
        if media is not None and not (isinstance(media, str) and "rdap" in media):
            continue
        try:
            where = origin.join(href)
        except httpx.InvalidURL:
            continue
        same = (where.scheme, where.host, where.port) == (origin.scheme, origin.host, origin.port)
        if where.scheme == "https" or same:
            return str(where)
    return None


def _entities(raw: Any, role: str, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    if raw is None or depth > MAX_DEPTH:
        return
    if not isinstance(raw, list):
        raise RdapMalformed("entities is not a list")
    for entity in raw:
        if not isinstance(entity, dict):
            raise RdapMalformed("an entity is not an object")
        roles = entity.get("roles")
        if roles is not None and not (
            isinstance(roles, list) and all(isinstance(r, str) for r in roles)
        ):
            raise RdapMalformed("entity roles is not a list of strings")
        if role in (r.lower() for r in roles or ()):
            yield entity
        yield from _entities(entity.get("entities"), role, depth + 1)


def _contact(entity: Mapping[str, Any]) -> _Contact:
    vcard = entity.get("vcardArray")
    props: list[Any] = []
    if vcard is not None:
        if not isinstance(vcard, list) or len(vcard) < 2 or not isinstance(vcard[1], list):
            raise RdapMalformed("registrant vcardArray is not a vCard")
        props = vcard[1]
    values: dict[str, Any] = {}
    country: str | None = None
    for prop in props:
        if not isinstance(prop, list) or len(prop) < 4 or not isinstance(prop[0], str):
            raise RdapMalformed("registrant vCard property is not [name, params, type, value]")
        key, params, value = prop[0].lower(), prop[1] if isinstance(prop[1], dict) else {}, prop[3]
        values.setdefault(key, value)
        if key == "adr" and country is None:
            country = _adr_country(params, value)
    withheld: list[str] = []
    kind = _text(values.get("kind"))
    org = _text(values.get("org"))
    fn = _text(values.get("fn"))
    if org is None and kind == "org":
        org = fn
    if org is not None and _WITHHELD.search(org):
        withheld.append(f"organisation ({org})")
        org = None
    if org is None and fn is not None and _WITHHELD.search(fn) and not withheld:
        withheld.append("name")  # a withheld person's name matters only with no org
    return _Contact(org, country, tuple(withheld))


def _text(value: Any) -> str | None:
    if isinstance(value, list):  # vCard "org" is structured: [name, unit, ...]
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _adr_country(params: Mapping[str, Any], value: Any) -> str | None:
    cc = params.get("cc")
    if isinstance(cc, str) and re.fullmatch(r"[A-Za-z]{2}", cc.strip()):
        return cc.strip().upper()
    named = value[6] if isinstance(value, list) and len(value) >= 7 else None
    if isinstance(named, str) and named.strip() and not _WITHHELD.search(named):
        return country_name(named)
    return None


def _redacted_registrant(raw: Any) -> list[str]:
    """RFC 9537 ``redacted`` entries about the registrant: which fields."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RdapMalformed("redacted is not a list")
    found = []
    for item in raw:
        if not isinstance(item, dict):
            raise RdapMalformed("a redacted entry is not an object")
        name = item.get("name")
        label = ""
        if isinstance(name, dict):
            label = str(name.get("type") or name.get("description") or "")
        path = str(item.get("prePath") or item.get("postPath") or "")
        if "registrant" in label.lower():
            found.append(label.strip().lower().replace("registrant ", ""))
        elif "registrant" in path.lower():
            found.append(path[:80])
    return found


# ------------------------------------------------------------------------ lookup


class DomainRdapLookup:
    """Registrants of endpoints' domains; ``lookup(host)`` never raises for network trouble."""

    def __init__(
        self,
        client: Fetcher | httpx.Client,
        bootstrap: DnsBootstrap,
        cache: KvCache | None = None,
        *,
        server_url: str | None = None,
        timeout: float = 10.0,
        concurrency: int = 4,
        budget: float | None = None,
        clock: Callable[[], float] = time.time,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        self.client = Fetcher.wrap(client)
        self.bootstrap = bootstrap
        self.cache = cache
        self.server_url = server_url or domain_rdap_url_override()
        if self.server_url is not None:
            # Checked now: a bad URL is a setting error, not an unknown per domain.
            origin = "" if server_url else f" (from ${DOMAIN_RDAP_URL_ENV})"
            try:
                RdapLookup(self.client, self.server_url)
            except ResidencyError as err:
                raise type(err)(f"domain {err}{origin}") from err
        self.timeout = timeout
        self.concurrency = concurrency
        self.budget = budget
        self.clock = clock
        self.ttl = ttl
        self.notes: list[str] = []
        self.queries = 0
        self.cache_hits = 0
        self._servers: dict[tuple[str, bool], RdapLookup] = {}
        self._memory: dict[str, Registrant] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._state = threading.Lock()
        self._store_lock = threading.Lock()  # one store connection, many probe workers
        self._owns_client = False
        self._stage_end: float | None = None  # one RDAP time budget for all servers

    @classmethod
    def open(
        cls,
        cache: KvCache | None = None,
        server_url: str | None = None,
        *,
        timeout: float = 10.0,
        fetcher: Fetcher | None = None,
    ) -> DomainRdapLookup:
        """A lookup with its own fetcher (closed by ``close()``; ``fetcher`` is a seam
        for tests) and the bootstrap from the dataset folder, or the bundled one (a
        note says why)."""
        bootstrap, note = load_bootstrap()
        client = fetcher or Fetcher()
        try:
            lookup = cls(client, bootstrap, cache, server_url=server_url, timeout=timeout)
        except BaseException:
            client.close()
            raise
        lookup._owns_client = True
        if note:
            lookup.notes.append(note)
        return lookup

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def lookup(self, host: str) -> Registrant:
        domain = registrable_domain(host)
        if domain is None:
            return unknown(
                None,
                f"{host} has no registrable domain (an address, a bare public suffix or a"
                " name under no public suffix)",
            )
        servers = (self.server_url,) if self.server_url else self.bootstrap.servers_for(domain)
        if not servers:
            tld = domain.rsplit(".", 1)[-1]
            return unknown(domain, f"no RDAP server listed for .{tld} ({self.bootstrap.label})")
        key = f"{servers[0].rstrip('/')} {domain}"
        with self._state:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # hosts of one domain arriving together wait for one answer
            cached = self._cached(key)
            if cached is not None:
                with self._state:
                    self.cache_hits += 1
                return cached
            found = self._query(domain, servers[0])
            self._remember(key, found)
            return found

    # ------------------------------------------------------------- internals

    def _query(self, domain: str, server: str) -> Registrant:
        transport = self._transport(server)
        if isinstance(transport, Registrant):
            return replace(transport, domain=domain)
        url = f"{transport.base_url}/domain/{_ascii(domain)}"
        found = self._get(transport, url, domain)
        if not isinstance(found, tuple):
            return found
        registrant, document = found
        link = related_link(document, url) if registrant.status == "unknown" else None
        if link is None:
            return registrant
        # A thin registry (.com, .net) names the registrar's server: ask it, once. The
        # link comes from an answer, so its host must be public (residency.http checks
        # every address it resolves to).
        base = link.rsplit("/domain/", 1)[0]
        registrar = self._transport(base, trusted=_origin(base) == _origin(transport.base_url))
        if isinstance(registrar, Registrant):
            return registrant
        again = self._get(registrar, link, domain)
        if isinstance(again, tuple):
            return again[0]
        reason = f"{registrant.reason}; the registrar's RDAP: {again.reason}"
        return replace(registrant, reason=reason, server=None)  # not cached: retried

    def _get(
        self, transport: RdapLookup, url: str, domain: str
    ) -> tuple[Registrant, Any] | Registrant:
        with self._state:
            self.queries += 1
        fetched = transport.fetch(url, domain)
        if isinstance(fetched, Registration):
            return unknown(domain, fetched.reason)
        return self._parse(fetched, domain, transport.host)

    @staticmethod
    def _parse(
        response: RdapFetched, domain: str, server: str
    ) -> tuple[Registrant, Any] | Registrant:
        host = response.url.host or server
        try:
            document = json.loads(response.body)
        except RecursionError:
            return unknown(domain, f"malformed RDAP response from {host}: JSON nested too deeply")
        except ValueError:
            return unknown(domain, f"malformed RDAP response from {host}: not JSON")
        broken = find_surrogate(document)
        if broken is not None:  # refused here, so never cached: no encoder can write it
            reason = f"malformed RDAP response from {host}: unpaired surrogate at {broken}"
            return unknown(domain, reason)
        try:
            return parse_domain(document, domain, host, utc_iso()), document
        except RdapMalformed as err:
            return unknown(domain, f"malformed RDAP response from {host}: {err}")
        except RecursionError:
            return unknown(domain, f"malformed RDAP response from {host}: nested too deeply")

    def _transport(self, base: str, trusted: bool = True) -> RdapLookup | Registrant:
        """The lookup for one server; ``trusted`` for a configured or bootstrap server
        (it may be local), not for a link taken from an answer."""
        key = (base.rstrip("/"), trusted)
        with self._state:
            found = self._servers.get(key)
            if found is None:
                try:
                    found = RdapLookup(
                        self.client,
                        key[0],
                        timeout=self.timeout,
                        concurrency=self.concurrency,
                        budget=self.budget,
                        trusted=trusted,
                    )
                except ResidencyError as err:
                    return unknown(None, f"unusable RDAP server URL: {err}")
                if self._stage_end is None:  # the first query starts the stage budget
                    self._stage_end = time.monotonic() + found.budget
                found.share_stage(self._stage_end)
                self._servers[key] = found
            return found

    def _cached(self, key: str) -> Registrant | None:
        with self._state:
            found = self._memory.get(key)
        if found is not None or self.cache is None:
            return found
        try:
            with self._store_lock:
                row = self.cache.cache_get(NAMESPACE, key, self.clock())
        except ResidencyError:
            return None  # an unreadable cache costs a query, never the answer
        decoded = _decode(row[0]) if row is not None else None
        if decoded is not None:
            with self._state:
                self._memory[key] = decoded
        return decoded

    def _remember(self, key: str, registrant: Registrant) -> None:
        if registrant.status == "unknown" and registrant.server is None:
            return  # a failure (timeout, 5xx, garbage) is retried next run
        with self._state:
            if len(self._memory) < 100_000:
                self._memory[key] = registrant
        if self.cache is None:
            return
        try:
            with self._store_lock:
                self.cache.cache_put(
                    NAMESPACE,
                    key,
                    json.dumps(asdict(registrant), sort_keys=True),
                    self.clock() + self.ttl,
                )
        except ResidencyError as err:
            with self._state:
                if not any(n.startswith("domain RDAP cache") for n in self.notes):
                    self.notes.append(f"domain RDAP cache not written: {err}")


_FIELDS = frozenset(f.name for f in fields(Registrant))


def _decode(payload: str) -> Registrant | None:
    """A stored registrant, or None for a row of another shape."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or not set(data) <= _FIELDS:
        return None
    if find_surrogate(data) is not None:
        return None  # written before surrogates were refused: no output can show it
    try:
        return Registrant(**data)
    except TypeError:
        return None


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        where = httpx.URL(url)
    except httpx.InvalidURL:
        return ("", "", None)
    return (where.scheme, where.host, where.port)


def _ascii(domain: str) -> str:
    """The A-label form RDAP servers are queried with."""
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain
