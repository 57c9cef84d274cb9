"""RdapLookup through httpx.MockTransport: cache use, limits and every failure path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from residency.locate.registration.rdap_cache import (
    MemoryRdapCache,
    RdapCacheError,
    SqliteRdapCache,
    StoreRdapCache,
)
from residency.locate.registration.rdap_client import (
    DEFAULT_RDAP_URL,
    RdapLookup,
    RdapUrlInvalid,
    rdap_base_url,
)
from residency.locate.registration.rdap_evidence import registration_evidence
from residency.model import EvidenceKind, Registration

GOOGLE_V4 = {
    "objectClassName": "ip network",
    "handle": "NET-74-125-0-0-1",
    "startAddress": "74.125.0.0",
    "endAddress": "74.125.255.255",
    "ipVersion": "v4",
    "name": "GOOGLE",
    "port43": "whois.arin.net",
    "entities": [
        {
            "handle": "GOGL",
            "roles": ["registrant"],
            "vcardArray": [
                "vcard",
                [["fn", {}, "text", "Google LLC"], ["adr", {"cc": "US"}, "text", ""]],
            ],
        }
    ],
}


class FakeTime:
    """A clock that only moves when someone sleeps, so backoff tests take no time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler, **options: Any) -> tuple[RdapLookup, FakeTime, list[str]]:
    seen: list[str] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return handler(request)

    fake = FakeTime()
    lookup = RdapLookup(
        httpx.Client(transport=httpx.MockTransport(recording)),
        "https://rdap.test/",
        MemoryRdapCache(),
        sleep=fake.sleep,
        clock=fake.clock,
        **options,
    )
    return lookup, fake, seen


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=GOOGLE_V4)


def test_one_query_serves_the_whole_network() -> None:
    lookup, _, seen = make(ok)
    first = lookup.lookup("74.125.1.1")
    assert first.status == "known" and first.org == "Google LLC" and first.country == "US"
    assert first.rir == "ARIN" and first.fetched
    for n in range(200):
        assert lookup.lookup(f"74.125.{n}.{n}") == first
    assert seen == ["https://rdap.test/ip/74.125.1.1"]
    assert lookup.stats.queries == 1
    assert lookup.stats.cache_hits == 200
    assert lookup.stats.lookups == 201


def test_lookup_many_in_threads_still_makes_one_query() -> None:
    lookup, _, seen = make(ok, concurrency=4)
    results = lookup.lookup_many([f"74.125.9.{n}" for n in range(100)], workers=8)
    assert len(results) == 100
    assert all(r.status == "known" for r in results.values())
    assert len(seen) == 1


def test_ipv4_mapped_ipv6_is_looked_up_as_ipv4() -> None:
    lookup, _, seen = make(ok)
    assert lookup.lookup("::ffff:74.125.1.1").org == "Google LLC"
    assert seen == ["https://rdap.test/ip/74.125.1.1"]


def test_non_public_and_invalid_addresses_are_not_queried() -> None:
    lookup, _, seen = make(ok)
    assert lookup.lookup("10.1.2.3").reason == "not a public address: no RDAP registration"
    assert lookup.lookup("nonsense").reason == "not an IP address: 'nonsense'"
    assert seen == []


def test_429_with_retry_after_is_honoured_then_succeeds() -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=GOOGLE_V4)]
    )
    lookup, fake, seen = make(lambda request: next(answers))
    result = lookup.lookup("74.125.1.1")
    assert result.status == "known"
    assert fake.slept == [7.0]
    assert len(seen) == 2


def test_429_without_retry_after_backs_off_exponentially_then_gives_up() -> None:
    lookup, fake, seen = make(lambda request: httpx.Response(429), retries=2, backoff=0.5)
    result = lookup.lookup("74.125.1.1")
    assert result.status == "unknown"
    assert result.reason.startswith("rate limited: HTTP 429 from rdap.test")
    assert fake.slept == [0.5, 1.0]
    assert len(seen) == 3


def test_429_asking_for_too_long_a_wait_gives_up_at_once() -> None:
    lookup, fake, _ = make(
        lambda request: httpx.Response(429, headers={"Retry-After": "3600"}), max_wait=30
    )
    result = lookup.lookup("74.125.1.1")
    assert result.reason == "rate limited: HTTP 429 from rdap.test; retry after 3600s"
    assert fake.slept == []


def test_rate_limit_in_an_rdap_error_object() -> None:
    body = {"errorCode": 429, "title": "Too many requests"}
    lookup, _, _ = make(lambda request: httpx.Response(200, json=body), retries=0)
    assert lookup.lookup("74.125.1.1").reason.startswith("rate limited")


def test_qps_paces_requests() -> None:
    lookup, fake, seen = make(lambda request: httpx.Response(404), qps=2)
    for address in ("8.8.8.8", "9.9.9.9", "1.1.1.1"):
        lookup.lookup(address)
    assert len(seen) == 3
    assert fake.slept == [0.5, 0.5]


def test_5xx_is_retried_then_unknown() -> None:
    lookup, fake, seen = make(lambda request: httpx.Response(503), retries=1, backoff=2)
    result = lookup.lookup("74.125.1.1")
    assert result.status == "unknown"
    assert result.reason == "RDAP server error: HTTP 503 from rdap.test"
    assert fake.slept == [2]
    assert len(seen) == 2


def test_404_is_unknown_with_the_address() -> None:
    lookup, _, _ = make(lambda request: httpx.Response(404))
    assert lookup.lookup("74.125.1.1").reason == (
        "no RDAP registration for 74.125.1.1 (HTTP 404 from rdap.test)"
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<html>busy</html>", "malformed RDAP response from rdap.test: not JSON"),
        (b"[1, 2]", "malformed RDAP response from rdap.test: not a JSON object"),
        (
            json.dumps({"handle": "X"}).encode(),
            "malformed RDAP response from rdap.test: IP address data is missing",
        ),
    ],
)
def test_malformed_answers_are_unknown_with_a_reason(content: bytes, reason: str) -> None:
    lookup, _, _ = make(lambda request: httpx.Response(200, content=content))
    result = lookup.lookup("74.125.1.1")
    assert result.status == "unknown"
    assert result.reason.startswith(reason)
    assert len(lookup.cache) == 0


def test_unreachable_service_stops_being_asked_after_repeated_failures() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    lookup, fake, seen = make(refuse, unreachable_after=3, cooldown=60)
    reasons = [lookup.lookup(f"8.8.{n}.8").reason for n in range(10)]
    assert all(r.startswith("RDAP unreachable: rdap.test: cannot connect") for r in reasons)
    assert len(seen) == 3  # then the circuit is open
    assert "not retried for 60s" in reasons[-1]
    fake.now += 61
    lookup.lookup("8.8.99.8")
    assert len(seen) == 4
    assert lookup.stats.unknown == 11 and lookup.stats.known == 0


def test_timeout_is_unreachable_with_the_limit() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    lookup, _, _ = make(slow, timeout=2.5)
    assert lookup.lookup("74.125.1.1").reason == (
        "RDAP unreachable: no answer from rdap.test within 2.5s"
    )


def test_answer_not_covering_the_query_is_unknown_and_not_cached() -> None:
    lookup, _, seen = make(ok)
    result = lookup.lookup("9.9.9.9")  # a confused server answers with Google's /16
    assert result.status == "unknown"
    assert result.reason == (
        "implausible RDAP answer from rdap.test: network 74.125.0.0/16 does not contain 9.9.9.9"
    )
    assert len(lookup.cache) == 0
    lookup.lookup("9.9.9.9")
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("start", "end", "address", "width"),
    [
        ("0.0.0.0", "255.255.255.255", "8.8.8.8", "/8"),
        ("8.0.0.0", "9.255.255.255", "8.8.8.8", "/8"),
        ("2000::", "2fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2600:1f18::1", "/19"),
    ],
)
def test_implausibly_wide_network_is_unknown_and_never_cached(
    start: str, end: str, address: str, width: str
) -> None:
    wide = {
        **GOOGLE_V4,
        "startAddress": start,
        "endAddress": end,
        "ipVersion": "v6" if ":" in start else "v4",
    }
    lookup, _, _ = make(lambda request: httpx.Response(200, json=wide))
    result = lookup.lookup(address)
    assert result.status == "unknown"
    assert result.reason.endswith(f"is implausibly wide (wider than {width})")
    assert len(lookup.cache) == 0


def test_cache_is_kept_per_service() -> None:
    cache = MemoryRdapCache()
    lookup, _, seen = make(ok)
    lookup.cache = cache
    assert lookup.lookup("74.125.1.1").status == "known"
    other = RdapLookup(
        httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(404))),
        "https://other.test",
        cache,
    )
    assert other.lookup("74.125.1.2").status == "unknown"  # not answered by rdap.test's entry
    assert lookup.lookup("74.125.1.2").status == "known" and len(seen) == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
        (json.dumps({**GOOGLE_V4, "startAddress": 5}).encode(), "startAddress is a number"),
        (json.dumps({**GOOGLE_V4, "handle": ["x"]}).encode(), "handle is a list"),
        (json.dumps({**GOOGLE_V4, "entities": "x"}).encode(), "entities is a string"),
        (
            json.dumps({**GOOGLE_V4, "entities": [{"handle": 7}]}).encode(),
            "entities[0].handle is a number",
        ),
        (
            json.dumps(
                {
                    **GOOGLE_V4,
                    "entities": [{"handle": "A", "vcardArray": ["vcard", [["fn", {}, "text", 1]]]}],
                }
            ).encode(),
            "(fn) is a number",
        ),
        (json.dumps({**GOOGLE_V4, "notices": [3]}).encode(), "notices[0] is a number"),
    ],
)
def test_wrong_shapes_are_unknown_never_a_crash(content: bytes, reason: str) -> None:
    lookup, _, _ = make(lambda request: httpx.Response(200, content=content))
    result = lookup.lookup("74.125.1.1")
    assert result.status == "unknown"
    assert reason in result.reason


def test_body_past_the_cap_is_not_read() -> None:
    def huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"x" * 65536] * 1000))  # 64 MB, lazily

    lookup, _, _ = make(huge)
    result = lookup.lookup("74.125.1.1")
    assert result.reason == "RDAP answer from rdap.test larger than 1 MiB: not read"


@pytest.mark.parametrize(
    ("location", "allowed"),
    [
        ("https://rdap.arin.net/registry/ip/74.125.1.1", True),
        ("http://rdap.arin.net/registry/ip/74.125.1.1", False),
        ("https://rdap.evil.example/ip/74.125.1.1", False),
        ("https://rdap.test/other/ip/74.125.1.1", True),
    ],
)
def test_redirects_only_within_the_allow_rule(location: str, allowed: bool) -> None:
    def redirector(request: httpx.Request) -> httpx.Response:
        if str(request.url) == "https://rdap.test/ip/74.125.1.1":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, json=GOOGLE_V4)

    lookup, _, seen = make(redirector)
    result = lookup.lookup("74.125.1.1")
    assert (result.status == "known") is allowed, result.reason
    if not allowed:
        assert result.reason.startswith(f"RDAP redirect to {location} refused")
        assert seen == ["https://rdap.test/ip/74.125.1.1"]


def test_redirect_hops_are_capped() -> None:
    def chain(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("n", "0"))
        return httpx.Response(302, headers={"Location": f"https://rdap.test/ip/x?n={n + 1}"})

    lookup, _, seen = make(chain)
    assert lookup.lookup("74.125.1.1").reason == (
        "RDAP redirects: more than 3 hops from https://rdap.test"
    )
    assert len(seen) == 4


def test_stage_budget_spent_makes_later_lookups_unknown() -> None:
    lookup, fake, seen = make(lambda request: httpx.Response(404), budget=5)
    lookup.lookup("8.8.8.8")
    fake.now += 6
    assert lookup.lookup("9.9.9.9").reason == "RDAP stage time budget of 5s spent"
    assert len(seen) == 1


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESIDENCY_RDAP_URL", raising=False)
    assert rdap_base_url() == DEFAULT_RDAP_URL
    monkeypatch.setenv("RESIDENCY_RDAP_URL", "http://127.0.0.1:9/rdap/")
    assert rdap_base_url() == "http://127.0.0.1:9/rdap"
    assert rdap_base_url("https://rdap.arin.net/registry") == "https://rdap.arin.net/registry"
    lookup = RdapLookup(httpx.Client(), None, MemoryRdapCache())
    assert lookup.base_url == "http://127.0.0.1:9/rdap"


@pytest.mark.parametrize(
    "bad", ["rdap.example", "ftp://rdap.example", "mailto:rdap@example.org", "https://"]
)
def test_unusable_base_url_is_a_one_line_setting_error(bad: str) -> None:
    with pytest.raises(RdapUrlInvalid, match=r"^RDAP URL .*"):
        RdapLookup(httpx.Client(), bad, MemoryRdapCache())


def test_bad_url_from_the_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESIDENCY_RDAP_URL", "rdap.example")
    with pytest.raises(RdapUrlInvalid, match=r"\(from \$RESIDENCY_RDAP_URL\)"):
        rdap_base_url()


def test_redirect_is_followed_and_names_the_rir() -> None:
    document = {k: v for k, v in GOOGLE_V4.items() if k != "port43"}
    document["handle"] = "NET-74-125-0-0"

    def redirector(request: httpx.Request) -> httpx.Response:
        if request.url.host == "rdap.test":
            return httpx.Response(
                302, headers={"Location": f"https://rdap.arin.net/registry{request.url.path}"}
            )
        return httpx.Response(200, json=document)

    lookup, _, seen = make(redirector)
    result = lookup.lookup("74.125.1.1")
    assert result.rir == "ARIN"
    assert seen[-1] == "https://rdap.arin.net/registry/ip/74.125.1.1"
    assert result.source == "rdap https://rdap.arin.net/registry/ip/74.125.1.1"


def test_wide_answer_never_makes_special_purpose_space_look_registered() -> None:
    iana_block = {
        "handle": "IANA-NETBLOCK-203",
        "startAddress": "203.0.0.0",
        "endAddress": "203.255.255.255",
        "ipVersion": "v4",
        "name": "IANA-NETBLOCK-203",
        "port43": "whois.apnic.net",
    }
    lookup, _, seen = make(lambda request: httpx.Response(200, json=iana_block))
    assert lookup.lookup("203.1.1.1").status == "known"
    assert lookup.lookup("203.200.1.1").status == "known"
    documentation = lookup.lookup("203.0.113.5")
    assert documentation.reason == "not a public address: no RDAP registration"
    assert lookup.lookup("224.0.0.1").status == "unknown"
    assert len(seen) == 1


def test_open_builds_its_own_client_and_closes_it(tmp_path: Path) -> None:
    cache = SqliteRdapCache(tmp_path / "rdap.sqlite3")
    with RdapLookup.open("http://127.0.0.1:9", cache, timeout=3) as lookup:
        assert lookup.cache is cache
        assert lookup.timeout == 3
        assert lookup.client.client.headers["User-Agent"].startswith("residency/")
    assert lookup.client.client.is_closed
    cache.close()


def test_registration_evidence_never_claims_a_place() -> None:
    lookup, _, _ = make(ok)
    evidence = registration_evidence(lookup.lookup("74.125.1.1"))
    assert evidence is not None
    assert evidence.kind == EvidenceKind.REGISTRATION
    assert evidence.place is None
    assert evidence.prefix == "74.125.0.0/16"
    assert evidence.org == "Google LLC"
    assert evidence.note == "registered to Google LLC; registrant country US; via ARIN"
    assert registration_evidence(Registration(status="unknown", reason="x")) is None


def test_cache_in_the_history_store_is_shared_between_runs(tmp_path: Path) -> None:
    from residency.store import open_store

    with open_store(str(tmp_path / "history.sqlite3")) as store:
        lookup, _, seen = make(ok)
        lookup.cache = StoreRdapCache(store)
        assert lookup.lookup("74.125.1.1").status == "known"
    with open_store(str(tmp_path / "history.sqlite3")) as store:
        again, _, seen_again = make(ok)
        again.cache = StoreRdapCache(store)
        assert again.lookup("74.125.200.200").org == "Google LLC"
    assert len(seen) == 1 and seen_again == []


def test_a_cache_that_cannot_be_written_never_costs_the_answer() -> None:
    class BrokenCache(MemoryRdapCache):
        def put(self, service: str, first: Any, last: Any, registration: Registration) -> None:
            raise RdapCacheError("RDAP cache /x: cannot write: disk full")

    lookup, _, _ = make(ok)
    lookup.cache = BrokenCache()
    assert lookup.lookup("74.125.1.1").org == "Google LLC"
    assert lookup.stats.cache_errors == 1
    assert "disk full" in lookup.stats.last_cache_error


def test_open_falls_back_to_memory_when_the_cache_cannot_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("RESIDENCY_RDAP_CACHE", str(blocker / "rdap.sqlite3"))
    with RdapLookup.open("http://127.0.0.1:9") as lookup:
        assert isinstance(lookup.cache, MemoryRdapCache)
        assert not isinstance(lookup.cache, SqliteRdapCache)
        assert lookup.stats.cache_errors == 1
        assert "cannot open" in lookup.stats.last_cache_error
