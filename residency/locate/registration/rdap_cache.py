"""RDAP answers cached by the network they cover, so one query serves a whole block.

An RDAP answer names the network it describes (start and end address). Every later
address inside that network is answered from the cache: an audit of a thousand
addresses in one /16 makes one query. Lookups go through a sorted table of
disjoint address segments per family (one ``bisect``), never a scan of the entries.
Where cached networks nest, the most specific one answers.

Answers are kept per RDAP service (its base URL): a network answered by one service
never answers a lookup made through another. A network wider than an RIR plausibly
registers (``MAX_PREFIX``) is never stored, and never loaded from an older cache.
"""

from __future__ import annotations

import bisect
import ipaddress
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Protocol

from residency.errors import ResidencyError
from residency.model import Registration
from residency.paths import rdap_cache_path
from residency.textsafe import find_surrogate

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Registrations change rarely; a week keeps audits fast and answers reasonably fresh.
DEFAULT_TTL = 7 * 24 * 3600.0

#: The widest network an RIR plausibly registers to one holder: IPv4 /8, IPv6 /19.
MAX_PREFIX = {4: 8, 6: 19}


def plausible_span(version: int, first: int, last: int) -> bool:
    """Whether ``first``..``last`` is no wider than ``MAX_PREFIX`` allows."""
    bits = 32 if version == 4 else 128
    return 0 <= last - first < 1 << (bits - MAX_PREFIX[version])


class RdapCacheError(ResidencyError):
    """The persistent RDAP cache cannot be opened or written."""


@dataclass(frozen=True)
class CachedRegistration:
    """One cached answer: the network it covers and when it goes stale."""

    version: int  # 4 or 6
    first: int  # first address of the network, as an integer
    last: int  # last address, inclusive
    registration: Registration
    expires: float  # epoch seconds

    @property
    def span(self) -> int:
        return self.last - self.first


class RdapCache(Protocol):
    """Where ``RdapLookup`` keeps answers. ``get`` must be cheap: it runs per address."""

    def get(self, service: str, address: IPAddress) -> Registration | None:
        """The fresh registration ``service`` gave for a network holding ``address``."""
        ...

    def find(self, service: str, version: int, value: int) -> Registration | None:
        """``get`` for an address given as its family and integer value (the fast path)."""
        ...

    def put(
        self, service: str, first: IPAddress, last: IPAddress, registration: Registration
    ) -> None:
        """Remember ``registration`` from ``service`` for every address in the range."""
        ...

    def __len__(self) -> int: ...


class KvCache(Protocol):
    """Key-value entries kept beside the RDAP answers (a fetched RFC 9092 geofeed, by URL)."""

    def kv_get(self, namespace: str, key: str) -> str | None:
        """The fresh value stored under ``namespace``/``key``, or None."""
        ...

    def kv_put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        ...


class RangeIndex:
    """Disjoint, sorted address segments of one family, each pointing at the most
    specific cached network that covers it. Lookup is one binary search.

    Readers take no lock: an insert builds new lists and swaps them in with a single
    assignment, so a reader sees the table either before or after it, never between.
    """

    def __init__(self) -> None:
        self._table: tuple[list[int], list[int], list[CachedRegistration]] = ([], [], [])

    def __len__(self) -> int:
        return len(self._table[0])

    def find(self, value: int) -> CachedRegistration | None:
        starts, ends, entries = self._table
        i = bisect.bisect_right(starts, value) - 1
        if i >= 0 and ends[i] >= value:
            return entries[i]
        return None

    def insert(self, entry: CachedRegistration) -> None:
        """Add ``entry``; inside its range it replaces broader or equal networks
        (an equal one is older), never a more specific one. Callers serialise inserts."""
        first, last = entry.first, entry.last
        starts, ends, entries = self._table
        lo = bisect.bisect_right(starts, first) - 1
        if lo < 0 or ends[lo] < first:
            lo += 1
        hi = lo
        new_starts: list[int] = []
        new_ends: list[int] = []
        new_entries: list[CachedRegistration] = []

        def emit(start: int, end: int, owner: CachedRegistration) -> None:
            if start > end:
                return
            if new_entries and new_entries[-1] is owner and new_ends[-1] + 1 == start:
                new_ends[-1] = end
                return
            new_starts.append(start)
            new_ends.append(end)
            new_entries.append(owner)

        cursor = first
        while hi < len(starts) and starts[hi] <= last:
            seg_start, seg_end, owner = starts[hi], ends[hi], entries[hi]
            emit(seg_start, first - 1, owner)  # the part of the old segment before us
            if seg_start > cursor:
                emit(cursor, seg_start - 1, entry)  # a gap: ours
            inner_start, inner_end = max(seg_start, first), min(seg_end, last)
            emit(inner_start, inner_end, owner if owner.span < entry.span else entry)
            cursor = inner_end + 1
            if seg_end > last:
                emit(last + 1, seg_end, owner)  # the part after us
            hi += 1
        if cursor <= last:
            emit(cursor, last, entry)
        self._table = (
            starts[:lo] + new_starts + starts[hi:],
            ends[:lo] + new_ends + ends[hi:],
            entries[:lo] + new_entries + entries[hi:],
        )


class MemoryRdapCache:
    """An in-process cache (tests, one-off runs). Thread-safe."""

    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self._clock = clock
        self._index: dict[tuple[str, int], RangeIndex] = {}
        self._count = 0
        self._lock = threading.Lock()
        self._kv: dict[tuple[str, str], tuple[str, float]] = {}

    def __len__(self) -> int:
        return self._count

    def kv_get(self, namespace: str, key: str) -> str | None:
        found = self._kv.get((namespace, key))
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

    def kv_put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        self._kv[(namespace, key)] = (value, self._clock() + ttl)

    def get(self, service: str, address: IPAddress) -> Registration | None:
        return self.find(service, address.version, int(address))

    def find(self, service: str, version: int, value: int) -> Registration | None:
        index = self._index.get((service, version))
        entry = index.find(value) if index is not None else None
        if entry is None or entry.expires <= self._clock():
            return None
        return entry.registration

    def put(
        self, service: str, first: IPAddress, last: IPAddress, registration: Registration
    ) -> None:
        self._store(service, self._entry(first, last, registration, self._clock() + self.ttl))

    def _entry(
        self, first: IPAddress, last: IPAddress, registration: Registration, expires: float
    ) -> CachedRegistration:
        if first.version != last.version or int(first) > int(last):
            raise ValueError(f"not an address range: {first} - {last}")
        if not plausible_span(first.version, int(first), int(last)):
            raise ValueError(f"implausibly wide network: {first} - {last}")
        return CachedRegistration(first.version, int(first), int(last), registration, expires)

    def _store(self, service: str, entry: CachedRegistration) -> None:
        if not plausible_span(entry.version, entry.first, entry.last):
            return  # e.g. a 0.0.0.0/0 row an older version cached: never trusted
        with self._lock:
            index = self._index.get((service, entry.version))
            if index is None:
                index = self._index[(service, entry.version)] = RangeIndex()
            index.insert(entry)
            self._count += 1


def default_cache_path() -> Path:
    """``$RESIDENCY_RDAP_CACHE`` or ``rdap.sqlite3`` in the user cache directory."""
    return rdap_cache_path()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS rdap_cache (
    service TEXT NOT NULL,
    version INTEGER NOT NULL,
    first TEXT NOT NULL,
    last TEXT NOT NULL,
    registration TEXT NOT NULL,
    fetched REAL NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (service, version, first, last)
)
"""

_KV_SCHEMA = """
CREATE TABLE IF NOT EXISTS rdap_kv (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (namespace, key)
)
"""

_REGISTRATION_FIELDS = {f.name for f in fields(Registration)}


class SqliteRdapCache(MemoryRdapCache):
    """A persistent cache in SQLite, with the same in-memory index for lookups.

    Fresh rows are loaded into the index when the cache opens; new answers are
    written through. Rows past their TTL are dropped on open.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(ttl=ttl, clock=clock)
        self.path = Path(path) if path is not None else default_cache_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            with self._db:
                columns = {r[1] for r in self._db.execute("PRAGMA table_info(rdap_cache)")}
                if columns and "service" not in columns:
                    # Written before answers were kept per service: a cache, so rebuilt.
                    self._db.execute("DROP TABLE rdap_cache")
                self._db.execute(_SCHEMA)
                self._db.execute(_KV_SCHEMA)
                self._db.execute("DELETE FROM rdap_cache WHERE expires <= ?", (clock(),))
                self._db.execute("DELETE FROM rdap_kv WHERE expires <= ?", (clock(),))
            rows = self._db.execute(
                "SELECT service, version, first, last, registration, expires FROM rdap_cache"
                " ORDER BY expires"
            ).fetchall()
        except (OSError, sqlite3.Error) as err:
            raise RdapCacheError(f"RDAP cache {self.path}: cannot open: {err}") from err
        for service, version, first, last, payload, expires in rows:
            registration = _decode(payload)
            if registration is not None:
                self._store(
                    service,
                    CachedRegistration(
                        version, int(first, 16), int(last, 16), registration, expires
                    ),
                )

    def put(
        self, service: str, first: IPAddress, last: IPAddress, registration: Registration
    ) -> None:
        now = self._clock()
        entry = self._entry(first, last, registration, now + self.ttl)
        width = 8 if entry.version == 4 else 32  # fixed-width hex sorts like the numbers
        try:
            with self._lock, self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO rdap_cache VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        service,
                        entry.version,
                        f"{entry.first:0{width}x}",
                        f"{entry.last:0{width}x}",
                        json.dumps(asdict(registration), sort_keys=True),
                        now,
                        entry.expires,
                    ),
                )
        except sqlite3.Error as err:
            raise RdapCacheError(f"RDAP cache {self.path}: cannot write: {err}") from err
        self._store(service, entry)

    def kv_get(self, namespace: str, key: str) -> str | None:
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT value FROM rdap_kv WHERE namespace = ? AND key = ? AND expires > ?",
                    (namespace, key, self._clock()),
                ).fetchone()
        except sqlite3.Error as err:
            raise RdapCacheError(f"RDAP cache {self.path}: cannot read: {err}") from err
        return None if row is None else str(row[0])

    def kv_put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        try:
            with self._lock, self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO rdap_kv VALUES (?, ?, ?, ?)",
                    (namespace, key, value, self._clock() + ttl),
                )
        except sqlite3.Error as err:
            raise RdapCacheError(f"RDAP cache {self.path}: cannot write: {err}") from err

    def close(self) -> None:
        with self._lock:
            self._db.close()


class KvStore(Protocol):
    """The part of ``residency.store.Store`` the RDAP cache uses: its generic
    key-value cache (typed structurally, so locate/ does not import store/)."""

    def cache_items(self, namespace: str, now: float) -> list[tuple[str, str, float | None]]: ...

    def cache_get(self, namespace: str, key: str) -> tuple[str, float | None] | None: ...

    def cache_put(
        self, namespace: str, key: str, value_json: str, expires: float | None
    ) -> None: ...


class StoreRdapCache(MemoryRdapCache):
    """RDAP answers kept in the history store (``kv_cache``, namespace ``rdap``), so
    every worker sharing a SQLite or PostgreSQL history shares the cache.

    Fresh rows are loaded into the in-memory index on open; new answers are written
    through. Keys are ``<service URL> <version>:<first hex>-<last hex>``; keys of the
    older, service-less shape are ignored.
    """

    NAMESPACE = "rdap"

    def __init__(
        self, store: KvStore, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(ttl=ttl, clock=clock)
        self.store = store
        for key, payload, expires in store.cache_items(self.NAMESPACE, clock()):
            parsed = _parse_key(key)
            registration = _decode(payload)
            # An entry without expiry was not written by this cache: skip it.
            if parsed is not None and registration is not None and expires is not None:
                service, version, first, last = parsed
                self._store(
                    service,
                    CachedRegistration(version, first, last, registration, float(expires)),
                )

    def put(
        self, service: str, first: IPAddress, last: IPAddress, registration: Registration
    ) -> None:
        entry = self._entry(first, last, registration, self._clock() + self.ttl)
        self.store.cache_put(
            self.NAMESPACE,
            f"{service} {entry.version}:{entry.first:x}-{entry.last:x}",
            json.dumps(asdict(registration), sort_keys=True),
            entry.expires,
        )
        self._store(service, entry)

    def kv_get(self, namespace: str, key: str) -> str | None:
        found = self.store.cache_get(f"{self.NAMESPACE}-{namespace}", key)
        return None if found is None else found[0]

    def kv_put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        self.store.cache_put(f"{self.NAMESPACE}-{namespace}", key, value, self._clock() + ttl)


def _parse_key(key: str) -> tuple[str, int, int, int] | None:
    try:
        service, rest = key.split(" ", 1)
        version, span = rest.split(":", 1)
        first, last = span.split("-", 1)
        return service, int(version), int(first, 16), int(last, 16)
    except ValueError:
        return None


def _decode(payload: str) -> Registration | None:
    """A stored registration, or None for a row written by an incompatible version."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or not set(data) <= _REGISTRATION_FIELDS:
        return None
    if find_surrogate(data) is not None:
        return None  # written before surrogates were refused: no output can show it
    try:
        return Registration(**data)
    except TypeError:
        return None
