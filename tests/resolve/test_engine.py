"""The engine with scripted transports: outcomes, retries, backoff, streaming, limits."""

from __future__ import annotations

import asyncio
import itertools
import time

import dns.rcode
import pytest

from residency.model import Outcome
from residency.resolve.engine import ChainResolver, ResolverSettings, Vantage
from residency.resolve.errors import BadResolverSpec, QueryFailed, QueryTimeout, ResolverUnreachable
from residency.resolve.ratelimit import RateLimiter
from tests.resolve.helpers import ScriptedTransport, reply_to

ZONE = {
    ("www.example", "A"): ["www.example. 300 IN A 192.0.2.1"],
    ("www.example", "AAAA"): ["www.example. 300 IN AAAA 2001:db8::1"],
}


def simple(qname: str, qtype: str, query: bytes) -> bytes | Exception:
    lines = ZONE.get((qname, qtype))
    if lines is None and qname.startswith("n") and qname.endswith(".bulk.example"):
        lines = [f"{qname}. 60 IN A 192.0.2.{len(qname) % 250}"] if qtype == "A" else []
    return reply_to(query, lines or [])


def resolver(*transports: ScriptedTransport, **settings: object) -> ChainResolver:
    options: dict[str, object] = {"timeout": 0.7, "attempts": 3, "https_hints": False}
    options.update(settings)
    return ChainResolver(ResolverSettings(**options), transports=list(transports))  # type: ignore[arg-type]


def test_resolved_name_has_addresses_and_resolver_label() -> None:
    result = asyncio.run(resolver(ScriptedTransport(simple, "ns1")).resolve("WWW.example."))
    assert result.outcome == Outcome.RESOLVED
    assert [(a.ip, a.via, a.ttl) for a in result.addresses] == [
        ("192.0.2.1", "A", 300),
        ("2001:db8::1", "AAAA", 300),
    ]
    assert result.resolver == "ns1" and result.when and result.error == ""


def test_timeout_is_retried_with_backoff_then_answered() -> None:
    calls = itertools.count()

    def flaky(qname: str, qtype: str, query: bytes) -> bytes | Exception:
        return QueryTimeout("lost") if next(calls) < 2 else simple(qname, qtype, query)

    transport = ScriptedTransport(flaky)
    started = time.monotonic()
    result = asyncio.run(resolver(transport, timeout=1.4).resolve("www.example"))
    assert result.outcome == Outcome.RESOLVED
    # first attempt waits 1.4/7 = 0.2s, and the two lost queries run concurrently (A, AAAA)
    assert 0.18 < time.monotonic() - started < 1.0
    assert len(transport.queries) == 4


def test_nothing_answers_gives_timeout_within_the_budget() -> None:
    transport = ScriptedTransport(lambda *_: QueryTimeout("lost"))
    started = time.monotonic()
    result = asyncio.run(resolver(transport, timeout=0.7).resolve("www.example"))
    elapsed = time.monotonic() - started
    assert result.outcome == Outcome.TIMEOUT
    assert "3 attempts" in result.error and "www.example" in result.error
    assert 0.6 < elapsed < 1.2
    assert len(transport.queries) == 6  # three attempts for A and for AAAA


def test_immediate_failure_is_an_error_with_its_message() -> None:
    transport = ScriptedTransport(lambda *_: QueryFailed("127.0.0.1:9: connection refused"))
    result = asyncio.run(resolver(transport).resolve("www.example"))
    assert result.outcome == Outcome.ERROR
    assert "connection refused" in result.error


def test_servfail_falls_back_to_the_next_resolver() -> None:
    bad = ScriptedTransport(lambda q, t, query: reply_to(query, rcode=dns.rcode.SERVFAIL), "bad")
    good = ScriptedTransport(simple, "good")
    result = asyncio.run(resolver(bad, good).resolve("www.example"))
    assert result.outcome == Outcome.RESOLVED
    assert result.resolver == "bad,good"


def test_servfail_from_every_resolver_is_servfail() -> None:
    bad = ScriptedTransport(lambda q, t, query: reply_to(query, rcode=dns.rcode.SERVFAIL))
    result = asyncio.run(resolver(bad).resolve("www.example"))
    assert result.outcome == Outcome.SERVFAIL
    assert len(bad.queries) == 2  # one resolver: SERVFAIL is an answer, not retried


def test_one_type_failing_is_noted_on_a_resolved_name() -> None:
    def no_aaaa(qname: str, qtype: str, query: bytes) -> bytes | Exception:
        return QueryTimeout("lost") if qtype == "AAAA" else simple(qname, qtype, query)

    result = asyncio.run(resolver(ScriptedTransport(no_aaaa), timeout=0.3).resolve("www.example"))
    assert result.outcome == Outcome.RESOLVED
    assert result.error.startswith("AAAA www.example: no answer")


@pytest.mark.parametrize(
    ("name", "problem"),
    [("bad..name", "label is empty"), ("x" * 64 + ".example", "label"), (".", "empty")],
)
def test_invalid_names_are_errors_not_exceptions(name: str, problem: str) -> None:
    transport = ScriptedTransport(simple)
    result = asyncio.run(resolver(transport).resolve(name))
    assert result.outcome == Outcome.ERROR and problem in result.error
    assert transport.queries == []


def test_vantage_is_recorded_and_bad_prefix_is_an_error() -> None:
    engine = resolver(ScriptedTransport(simple))
    result = asyncio.run(engine.resolve("www.example", Vantage("IN", "49.36.0.0/24")))
    assert (result.vantage, result.ecs_prefix, result.ecs_scope) == ("IN", "49.36.0.0/24", None)
    bad = asyncio.run(engine.resolve("www.example", Vantage("XX", "not-a-prefix")))
    assert bad.outcome == Outcome.ERROR and "not-a-prefix" in bad.error


def test_resolve_many_streams_with_a_bounded_window() -> None:
    pulled = 0

    def names():  # type: ignore[no-untyped-def]
        nonlocal pulled
        for i in range(800):
            pulled += 1
            yield f"n{i}.bulk.example"

    engine = resolver(ScriptedTransport(simple), concurrency=16)
    seen = 0
    max_ahead = 0
    for name, (resolution,) in engine.resolve_many(names()):
        seen += 1
        max_ahead = max(max_ahead, pulled - seen)
        assert resolution.name == name and resolution.outcome == Outcome.RESOLVED
    assert seen == 800
    assert max_ahead <= 16 // 2


def test_resolve_many_gives_one_resolution_per_vantage() -> None:
    engine = resolver(ScriptedTransport(simple))
    vantages = (None, Vantage("IN", "49.36.0.0/24"))
    ((_name, resolutions),) = list(engine.resolve_many(["www.example"], vantages))
    assert [r.vantage for r in resolutions] == [None, "IN"]


def test_resolve_many_can_be_abandoned_early() -> None:
    engine = resolver(ScriptedTransport(simple), concurrency=8)
    stream = engine.resolve_many(f"n{i}.bulk.example" for i in range(10**6))
    first = next(stream)
    stream.close()
    assert first[1][0].outcome == Outcome.RESOLVED


def test_check_reachable_raises_one_line_when_nothing_answers() -> None:
    engine = resolver(ScriptedTransport(lambda *_: QueryFailed("10.9.9.9: connection refused")))
    with pytest.raises(
        ResolverUnreachable, match=r"resolver unreachable: 10\.9\.9\.9: connection refused"
    ):
        engine.check_reachable()


def test_check_reachable_reports_the_silent_one_of_two() -> None:
    dead = ScriptedTransport(lambda *_: QueryFailed("dead: connection refused"), "dead")
    engine = resolver(dead, ScriptedTransport(simple, "alive"))
    assert engine.check_reachable() == ("dead: connection refused",)


@pytest.mark.parametrize(
    "settings",
    [{"timeout": 0}, {"attempts": 0}, {"concurrency": 0}, {"qps": -1.0}, {"max_chain": 0}],
)
def test_settings_are_validated(settings: dict[str, float]) -> None:
    with pytest.raises(BadResolverSpec):
        ResolverSettings(**settings)  # type: ignore[arg-type]


def test_rate_limiter_spaces_queries() -> None:
    async def run() -> float:
        limiter = RateLimiter(200.0, burst=1)
        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(limiter.acquire() for _ in range(41)))
        return asyncio.get_running_loop().time() - started

    assert 0.18 < asyncio.run(run()) < 0.6


def test_qps_bounds_the_whole_run() -> None:
    engine = resolver(ScriptedTransport(simple), qps=400.0)
    started = time.monotonic()
    results = list(engine.resolve_many(f"n{i}.bulk.example" for i in range(100)))
    # 200 queries at 400/s (with a burst of 8) take at least ~0.45s
    assert len(results) == 100 and time.monotonic() - started > 0.4


def test_a_referral_is_delegated_naming_the_servers() -> None:
    import dns.message as message
    import dns.rrset as rrset

    def respond(qname: str, qtype: str, query: bytes) -> bytes:
        response = message.make_response(message.from_wire(query))
        response.flags &= ~0x0400
        response.authority.append(
            rrset.from_text("deleg.t1.test.", 60, "IN", "NS", "ns.other.example.")
        )
        return response.to_wire()

    engine = ChainResolver(ResolverSettings(https_hints=False), [ScriptedTransport(respond)])
    result = asyncio.run(engine.resolve("www.deleg.t1.test"))
    assert result.outcome == Outcome.DELEGATED
    assert "ns.other.example" in result.error and "deleg.t1.test" in result.error
