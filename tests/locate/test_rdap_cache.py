"""The CIDR cache: the most specific cached network answers, by binary search;
TTL expiry; the SQLite cache survives a reopen."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import pytest

from residency.locate.registration.rdap_cache import (
    CachedRegistration,
    MemoryRdapCache,
    RangeIndex,
    RdapCacheError,
    SqliteRdapCache,
)
from residency.model import Registration

ip = ipaddress.ip_address
S = "https://rdap.test"


def reg(name: str) -> Registration:
    return Registration(status="known", network_name=name)


def entry(first: int, last: int, name: str) -> CachedRegistration:
    return CachedRegistration(4, first, last, reg(name), expires=1e18)


def test_nested_networks_most_specific_wins_in_either_order() -> None:
    for order in ([(0, 999, "big"), (100, 199, "small")], [(100, 199, "small"), (0, 999, "big")]):
        index = RangeIndex()
        for first, last, name in order:
            index.insert(entry(first, last, name))
        names = {v: index.find(v) for v in (0, 99, 100, 150, 199, 200, 999)}
        assert {v: e.registration.network_name for v, e in names.items() if e} == {
            0: "big",
            99: "big",
            100: "small",
            150: "small",
            199: "small",
            200: "big",
            999: "big",
        }
        assert index.find(1000) is None
        assert len(index) == 3


def test_equal_network_is_replaced_by_the_newer_answer() -> None:
    index = RangeIndex()
    index.insert(entry(10, 20, "old"))
    index.insert(entry(10, 20, "new"))
    found = index.find(15)
    assert found is not None and found.registration.network_name == "new"
    assert len(index) == 1


def test_random_intervals_match_a_brute_force_scan() -> None:
    rng = random.Random(7)
    index = RangeIndex()
    inserted: list[CachedRegistration] = []
    for n in range(300):
        first = rng.randrange(0, 5000)
        item = entry(first, first + rng.choice([0, 3, 15, 63, 255, 1023]), str(n))
        index.insert(item)
        inserted.append(item)
    for value in range(0, 6200, 3):
        holders = [(e.span, -i, e) for i, e in enumerate(inserted) if e.first <= value <= e.last]
        expected = min(holders, key=lambda h: (h[0], h[1]))[2] if holders else None
        assert index.find(value) is expected, value


def test_memory_cache_answers_the_whole_network_and_expires() -> None:
    now = [1000.0]
    cache = MemoryRdapCache(ttl=60, clock=lambda: now[0])
    cache.put(S, ip("74.125.0.0"), ip("74.125.255.255"), reg("GOOGLE"))
    found = cache.get(S, ip("74.125.3.4"))
    assert found is not None and found.network_name == "GOOGLE"
    assert cache.get(S, ip("74.126.0.0")) is None
    assert cache.get(S, ip("2001:db8::1")) is None  # families never mix
    now[0] += 61
    assert cache.get(S, ip("74.125.3.4")) is None


def test_ipv6_ranges() -> None:
    cache = MemoryRdapCache()
    cache.put(S, ip("2001:4860::"), ip("2001:4860:ffff:ffff:ffff:ffff:ffff:ffff"), reg("G6"))
    found = cache.get(S, ip("2001:4860:4860::8888"))
    assert found is not None and found.network_name == "G6"
    assert cache.get(S, ip("2001:4861::1")) is None


def test_backwards_range_is_refused() -> None:
    with pytest.raises(ValueError):
        MemoryRdapCache().put(S, ip("10.0.0.9"), ip("10.0.0.1"), reg("x"))


def test_sqlite_cache_persists_and_drops_stale_rows(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "rdap.sqlite3"
    now = [1000.0]
    first = SqliteRdapCache(path, ttl=60, clock=lambda: now[0])
    full = Registration(
        status="known",
        network_name="GOOGLE",
        cidr="74.125.0.0/16",
        org="Google Inc.",
        country="US",
        rir="ARIN",
        abuse_email="a@b",
        fetched="2026-01-01T00:00:00Z",
    )
    first.put(S, ip("74.125.0.0"), ip("74.125.255.255"), full)
    first.put(S, ip("2001:4860::"), ip("2001:4860::ffff"), reg("G6"))
    first.close()

    reopened = SqliteRdapCache(path, ttl=60, clock=lambda: now[0])
    assert len(reopened) == 2
    assert reopened.get(S, ip("74.125.200.1")) == full
    assert reopened.get(S, ip("2001:4860::1234")) == reg("G6")
    reopened.close()

    now[0] += 120
    stale = SqliteRdapCache(path, ttl=60, clock=lambda: now[0])
    assert len(stale) == 0
    assert stale.get(S, ip("74.125.200.1")) is None
    stale.close()


def test_sqlite_cache_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RdapCacheError, match="cannot open"):
        SqliteRdapCache(blocker / "rdap.sqlite3")


def test_default_path_honours_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESIDENCY_RDAP_CACHE", str(tmp_path / "c.sqlite3"))
    cache = SqliteRdapCache()
    assert cache.path == tmp_path / "c.sqlite3"
    cache.close()
