"""The RDAP client: registration facts for addresses over ``residency.http``.

Base URL configurable (``$RESIDENCY_RDAP_URL``). Network trouble never raises: a 429
(after backing off), a 5xx, a timeout, a malformed answer or an unreachable service
each give ``Registration(status="unknown", reason=...)``. Answers are cached by the
network they cover (see ``rdap_cache``); parsing is ``rdap_parse``'s.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from residency.addresses import AddressError, parse_address
from residency.errors import ResidencyError
from residency.http import (
    DeadlinePassed,
    Fetcher,
    FetchError,
    FetchRefused,
    FetchTimedOut,
    FetchTooLarge,
    Limits,
    TooManyRedirects,
    retry_after,
)
from residency.locate.registration.rdap_cache import (
    MAX_PREFIX,
    IPAddress,
    MemoryRdapCache,
    RdapCache,
    RdapCacheError,
    SqliteRdapCache,
)
from residency.locate.registration.rdap_parse import RdapMalformed, cidr_text, parse_rdap
from residency.model import Registration
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
        client: Fetcher | httpx.Client,
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
        trusted: bool = True,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = Fetcher.wrap(client)
        # A configured base URL may be local (a registry mirror, a test server); one
        # taken from an answer (a domain's ``related`` link) may not.
        self.trusted = trusted
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
    ) -> RdapLookup:
        """A lookup with its own fetcher (closed by ``close()``) and, unless given,
        the persistent SQLite cache in the user cache directory."""
        client = Fetcher()
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
        (``residency.locate.registration.domain_rdap``), one lookup per registry server."""
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
                wait = retry_after(response.headers.get("Retry-After"))
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
                f" {cidr_text(answer.first, answer.last)} does not contain {address}"
            )
        size = int(answer.last) - int(answer.first) + 1
        if size > 1 << (answer.first.max_prefixlen - MAX_PREFIX[address.version]):
            return unknown(
                f"implausible RDAP answer from {host}: network"
                f" {cidr_text(answer.first, answer.last)} is implausibly wide"
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
        """GET ``url`` through ``residency.http`` following allowed redirects, reading at
        most ``MAX_BODY`` bytes, all before ``deadline``; network trouble becomes an
        unknown ``Registration``."""
        remaining = deadline - self._clock()
        if remaining <= 0:
            return self._deadline_passed(deadline, stage_end)
        read = min(self.timeout, remaining) if self.timeout is not None else remaining
        limits = Limits(
            deadline=remaining,
            max_bytes=MAX_BODY,
            connect_timeout=read,
            read_timeout=read,
            max_redirects=MAX_REDIRECTS,
        )
        try:
            response = self.client.get(
                url,
                limits,
                headers={"Accept": _ACCEPT},
                redirects=self._redirect_refused,
                trusted=self.trusted and self._own_origin(httpx.URL(url)),
            )
        except FetchTooLarge as err:
            host = httpx.URL(err.url).host or self.host
            return unknown(f"RDAP answer from {host} larger than 1 MiB: not read")
        except TooManyRedirects:
            return unknown(f"RDAP redirects: more than {MAX_REDIRECTS} hops from {self.base_url}")
        except FetchRefused as err:
            return unknown(f"RDAP {err.reason}")
        except DeadlinePassed:
            return self._deadline_passed(deadline, stage_end)
        except FetchTimedOut:
            if deadline >= stage_end and self._clock() >= deadline - 0.05:
                return unknown(self._budget_spent)
            limit = f"within {self.timeout:g}s" if self.timeout else "in time"
            return self._transport_failed(f"{UNREACHABLE}: no answer from {self.host} {limit}")
        except FetchError as err:
            return self._transport_failed(f"{UNREACHABLE}: {self.host}: {err.reason}")
        self._transport_ok()
        return RdapFetched(response.status_code, response.url, response.headers, response.body)

    def _own_origin(self, where: httpx.URL) -> bool:
        base = httpx.URL(self.base_url)
        return (where.scheme, where.host, where.port) == (base.scheme, base.host, base.port)

    def _redirect_refused(self, current: httpx.URL, where: httpx.URL) -> str | None:
        """Why a redirect may not be followed, or None: https to an RIR's RDAP host, or
        the configured base URL's own scheme, host and port."""
        if self._own_origin(where):
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


def _now() -> str:
    return utc_iso()
