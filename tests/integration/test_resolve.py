"""The resolution engine against a real Knot DNS on 127.0.0.1: every outcome, exactly."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator

import pytest

from residency.demo.knot import KnotServer, free_port
from residency.model import ChainStep, Outcome, Resolution
from residency.resolve.engine import ChainResolver, ResolverSettings, Vantage
from residency.resolve.errors import ResolverUnreachable
from tests.integration.dnsserver import ecs_module_available

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine(dns_server: KnotServer) -> ChainResolver:
    return ChainResolver(
        ResolverSettings(nameservers=(dns_server.address,), timeout=2, max_chain=8)
    )


def resolve(engine: ChainResolver, name: str, vantage: Vantage | None = None) -> Resolution:
    return asyncio.run(engine.resolve(name, vantage))


def steps(result: Resolution) -> list[tuple[str, str, str, int]]:
    return [(s.owner, s.rtype, s.target, s.ttl) for s in result.chain]


def test_plain_name(engine: ChainResolver) -> None:
    result = resolve(engine, "www.chain.test")
    assert result.outcome == Outcome.RESOLVED
    assert steps(result) == [
        ("www.chain.test", "A", "192.0.2.10", 300),
        ("www.chain.test", "AAAA", "2001:db8::10", 300),
    ]


def test_chain_across_three_zones_keeps_each_ttl(engine: ChainResolver) -> None:
    result = resolve(engine, "start.chain.test")
    assert result.outcome == Outcome.RESOLVED
    assert steps(result) == [
        ("start.chain.test", "CNAME", "hop1.cdn.test", 600),
        ("hop1.cdn.test", "CNAME", "hop2.edge.test", 300),
        ("hop2.edge.test", "CNAME", "node.edge.test", 60),
        ("node.edge.test", "A", "198.51.100.7", 30),
        ("node.edge.test", "AAAA", "2001:db8:7::1", 30),
    ]
    assert result.cname_targets == ("hop1.cdn.test", "hop2.edge.test", "node.edge.test")
    assert result.min_ttl == 30


@pytest.mark.parametrize(
    ("name", "outcome", "chain", "error"),
    [
        ("nothere.chain.test", Outcome.NXDOMAIN, [], "nothere.chain.test does not exist"),
        (
            "dangling.chain.test",
            Outcome.NXDOMAIN,
            [("dangling.chain.test", "CNAME", "nothere.chain.test", 300)],
            "nothere.chain.test does not exist",
        ),
        ("txtonly.chain.test", Outcome.NODATA, [], "txtonly.chain.test has no A or AAAA record"),
        ("www.broken.test", Outcome.SERVFAIL, [], "server failure for www.broken.test"),
        (
            "tobroken.chain.test",
            Outcome.SERVFAIL,
            [("tobroken.chain.test", "CNAME", "www.broken.test", 300)],
            "server failure for www.broken.test",
        ),
        ("www.elsewhere.test", Outcome.REFUSED, [], "query for www.elsewhere.test refused"),
        (
            "torefused.chain.test",
            Outcome.REFUSED,
            [("torefused.chain.test", "CNAME", "www.elsewhere.test", 300)],
            "query for www.elsewhere.test refused",
        ),
        (
            "loop1.chain.test",
            Outcome.CNAME_LOOP,
            [
                ("loop1.chain.test", "CNAME", "loop2.chain.test", 300),
                ("loop2.chain.test", "CNAME", "loop1.chain.test", 300),
            ],
            "CNAME loop: loop1.chain.test is already in the chain",
        ),
        (
            "xloop.chain.test",
            Outcome.CNAME_LOOP,
            [
                ("xloop.chain.test", "CNAME", "xloop.cdn.test", 300),
                ("xloop.cdn.test", "CNAME", "xloop.chain.test", 300),
            ],
            "CNAME loop: xloop.chain.test is already in the chain",
        ),
    ],
)
def test_outcomes(
    engine: ChainResolver,
    name: str,
    outcome: Outcome,
    chain: list[tuple[str, str, str, int]],
    error: str,
) -> None:
    result = resolve(engine, name)
    assert result.outcome == outcome
    assert steps(result) == chain
    assert result.error == error
    assert result.addresses == ()


def test_chain_too_long(engine: ChainResolver) -> None:
    result = resolve(engine, "long0.chain.test")
    assert result.outcome == Outcome.CHAIN_TOO_LONG
    assert result.error.startswith("CNAME chain longer than 8 links")
    assert len(result.chain) > 8 and {s.rtype for s in result.chain} == {"CNAME"}
    assert result.chain[0] == ChainStep("long0.chain.test", "CNAME", "long1.chain.test", 300)
    relaxed = ChainResolver(ResolverSettings(nameservers=engine.settings.nameservers, max_chain=16))
    assert resolve(relaxed, "long0.chain.test").addresses[0].ip == "192.0.2.12"


def test_ipv6_only_name(engine: ChainResolver) -> None:
    result = resolve(engine, "v6only.chain.test")
    assert result.outcome == Outcome.RESOLVED
    assert [(a.ip, a.via) for a in result.addresses] == [("2001:db8::6", "AAAA")]


def test_truncated_answer_is_retried_over_tcp(engine: ChainResolver) -> None:
    result = resolve(engine, "big.big.test")
    assert result.outcome == Outcome.RESOLVED
    # 120 A records (about 2 kB) cannot arrive in a 1232-byte UDP reply: TCP delivered them
    assert len(result.addresses) == 120
    assert {a.via for a in result.addresses} == {"A"}


def test_https_hints_are_read(engine: ChainResolver) -> None:
    result = resolve(engine, "hinted.chain.test")
    assert [(a.ip, a.via) for a in result.addresses] == [
        ("192.0.2.45", "A"),
        ("192.0.2.44", "HTTPS-ipv4hint"),
        ("2001:db8::44", "HTTPS-ipv6hint"),
    ]
    assert ("hinted.chain.test", "HTTPS") in [(s.owner, s.rtype) for s in result.chain]
    only = resolve(engine, "hintonly.chain.test")
    assert only.outcome == Outcome.RESOLVED
    assert [(a.ip, a.via) for a in only.addresses] == [("192.0.2.46", "HTTPS-ipv4hint")]


def test_https_hints_can_be_turned_off(dns_server: KnotServer) -> None:
    engine = ChainResolver(ResolverSettings(nameservers=(dns_server.address,), https_hints=False))
    result = resolve(engine, "hintonly.chain.test")
    assert result.outcome == Outcome.NODATA


def test_ecs_vantages_get_different_answers_and_scope(engine: ChainResolver) -> None:
    if not ecs_module_available():
        pytest.skip("Knot's geoip module is not installed")  # start_server already fails under CI
    india = resolve(engine, "www.geo.test", Vantage("IN", "49.36.12.0/24"))
    us = resolve(engine, "www.geo.test", Vantage("US", "3.5.140.0/24"))
    v6 = resolve(engine, "www.geo.test", Vantage("IN", "2001:db8:aaaa:1::/56"))
    plain = resolve(engine, "www.geo.test")
    assert [a.ip for a in india.addresses] == ["203.0.113.91"]
    assert (india.vantage, india.ecs_prefix, india.ecs_scope) == ("IN", "49.36.12.0/24", 16)
    assert [a.ip for a in us.addresses] == ["203.0.113.3"] and us.ecs_scope == 8
    assert [a.ip for a in v6.addresses] == ["203.0.113.92"] and v6.ecs_scope == 48
    assert [a.ip for a in plain.addresses] == ["203.0.113.1"]
    assert plain.ecs_scope is None and plain.ecs_prefix is None


def test_resolve_many_streams_names(engine: ChainResolver) -> None:
    def names() -> Iterator[str]:
        for i in range(2000):
            yield f"host{i}.many.chain.test"

    seen = set()
    for name, (result,) in engine.resolve_many(names()):
        assert result.outcome == Outcome.RESOLVED, result.error
        assert result.chain[0] == ChainStep(name, "CNAME", "www.chain.test", 300)
        seen.add(name)
    assert len(seen) == 2000


def test_nothing_listening_is_a_quick_clear_error() -> None:
    address = f"127.0.0.1:{free_port()}"
    engine = ChainResolver(ResolverSettings(nameservers=(address,), timeout=2))
    started = time.monotonic()
    result = resolve(engine, "www.chain.test")
    assert result.outcome == Outcome.ERROR
    assert f"{address}: connection refused" in result.error
    assert time.monotonic() - started < 2.5
    with pytest.raises(
        ResolverUnreachable, match=re.escape(f"resolver unreachable: {address}: connection refused")
    ):
        engine.check_reachable()


def test_silent_resolver_times_out_within_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        engine = ChainResolver(ResolverSettings(nameservers=(address,), timeout=0.8, attempts=2))
        started = time.monotonic()
        result = resolve(engine, "www.chain.test")
        elapsed = time.monotonic() - started
        assert result.outcome == Outcome.TIMEOUT
        assert f"no answer from {address} in 2 attempts within 0.8s" in result.error
        assert 0.7 < elapsed < 1.5
        with pytest.raises(ResolverUnreachable, match="no answer"):
            engine.check_reachable()


def test_second_resolver_answers_when_first_is_dead(dns_server: KnotServer) -> None:
    dead = f"127.0.0.1:{free_port()}"
    engine = ChainResolver(ResolverSettings(nameservers=(dead, dns_server.address), timeout=2))
    results = [resolve(engine, "www.chain.test") for _ in range(4)]
    assert all(r.outcome == Outcome.RESOLVED for r in results)
    assert engine.check_reachable() == (f"{dead}: connection refused (nothing is listening there)",)
