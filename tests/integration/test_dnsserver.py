"""The DNS harness itself: the session server answers, zones can be added and replaced."""

from __future__ import annotations

import dns.message
import dns.query
import dns.rcode

from tests.integration.dnsserver import KnotServer, zone


def ask(server: KnotServer, name: str, rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, server.host, port=server.port, timeout=2)


def test_session_server_serves_test_zones(dns_server: KnotServer) -> None:
    reply = ask(dns_server, "www.chain.test")
    assert reply.rcode() == dns.rcode.NOERROR
    assert [str(r) for r in reply.answer[0]] == ["192.0.2.10"]
    assert ask(dns_server, "www.broken.test").rcode() == dns.rcode.SERVFAIL
    assert ask(dns_server, "www.elsewhere.test").rcode() == dns.rcode.REFUSED


def test_set_zone_adds_and_replaces(make_dns_server) -> None:  # type: ignore[no-untyped-def]
    server = make_dns_server([zone("one.test", "www A 192.0.2.1")])
    assert str(ask(server, "www.one.test").answer[0][0]) == "192.0.2.1"
    server.set_zone(zone("two.test", "www A 192.0.2.2"))
    assert str(ask(server, "www.two.test").answer[0][0]) == "192.0.2.2"
    server.set_zone(zone("one.test", "www A 192.0.2.3", serial=2))
    assert str(ask(server, "www.one.test").answer[0][0]) == "192.0.2.3"
