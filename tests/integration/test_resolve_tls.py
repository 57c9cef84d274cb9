"""DNS over TLS and over HTTPS through the engine, against BIND 9.18's DoT/DoH listeners."""

from __future__ import annotations

import asyncio

import pytest

from residency.demo.knot import free_port
from residency.model import Outcome
from residency.resolve.engine import ChainResolver, ResolverSettings
from residency.resolve.errors import ResolverUnreachable
from tests.integration.dnsserver import BindTlsServer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["dot", "doh"])
def test_chain_over_encrypted_transport(tls_dns_server: BindTlsServer, kind: str) -> None:
    where = tls_dns_server.dot if kind == "dot" else tls_dns_server.doh
    settings = ResolverSettings(timeout=5, tls_verify=tls_dns_server.ca_file, **{kind: where})  # type: ignore[arg-type]
    engine = ChainResolver(settings)
    result = asyncio.run(engine.resolve("alias.chain.test"))
    assert result.outcome == Outcome.RESOLVED, result.error
    first = result.chain[0]
    assert (first.owner, first.rtype, first.target) == (
        "alias.chain.test",
        "CNAME",
        "www.chain.test",
    )
    assert [a.ip for a in result.addresses] == ["192.0.2.10", "2001:db8::10"]
    assert result.resolver == (f"tls://{where}" if kind == "dot" else where)
    nx = asyncio.run(engine.resolve("nothere.chain.test"))
    assert nx.outcome == Outcome.NXDOMAIN


def test_dot_pipelines_many_names(tls_dns_server: BindTlsServer) -> None:
    engine = ChainResolver(
        ResolverSettings(dot=tls_dns_server.dot, tls_verify=tls_dns_server.ca_file, timeout=5)
    )
    outcomes = [
        r[0].outcome for _, r in engine.resolve_many(f"h{i}.many.chain.test" for i in range(300))
    ]
    assert outcomes.count(Outcome.RESOLVED) == 300


def test_untrusted_certificate_is_a_clear_error(tls_dns_server: BindTlsServer) -> None:
    engine = ChainResolver(ResolverSettings(dot=tls_dns_server.dot, timeout=2, attempts=1))
    result = asyncio.run(engine.resolve("www.chain.test"))
    assert result.outcome == Outcome.ERROR
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    with pytest.raises(ResolverUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        engine.check_reachable()


def test_unreachable_doh_url_fails_within_the_timeout() -> None:
    url = f"https://127.0.0.1:{free_port()}/dns-query"
    engine = ChainResolver(ResolverSettings(doh=url, timeout=2))
    with pytest.raises(ResolverUnreachable, match=f"DoH {url}: cannot connect"):
        engine.check_reachable()
    result = asyncio.run(engine.resolve("www.chain.test"))
    assert result.outcome == Outcome.ERROR and "cannot connect" in result.error
