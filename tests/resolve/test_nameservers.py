"""Parsing --nameserver values."""

from __future__ import annotations

import pytest

from residency.resolve.errors import BadResolverSpec
from residency.resolve.nameservers import ServerAddress, parse_nameserver, system_nameservers


@pytest.mark.parametrize(
    ("spec", "expected", "label"),
    [
        ("192.0.2.1", ServerAddress("192.0.2.1", 53), "192.0.2.1"),
        ("192.0.2.1:5353", ServerAddress("192.0.2.1", 5353), "192.0.2.1:5353"),
        ("2001:db8::1", ServerAddress("2001:db8::1", 53), "[2001:db8::1]"),
        ("[2001:db8::1]:5353", ServerAddress("2001:db8::1", 5353), "[2001:db8::1]:5353"),
        ("[::1]", ServerAddress("::1", 53), "[::1]"),
    ],
)
def test_parse_nameserver(spec: str, expected: ServerAddress, label: str) -> None:
    assert parse_nameserver(spec) == expected
    assert parse_nameserver(spec).label == label


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "empty"),
        ("dns.example:53", "not an IP address"),
        ("192.0.2.1:99999", "port '99999'"),
        ("192.0.2.1:x", "port 'x'"),
        ("[2001:db8::1", "missing ']'"),
        ("[2001:db8::1]53", "expected ':PORT'"),
    ],
)
def test_bad_nameserver_names_the_value(spec: str, problem: str) -> None:
    with pytest.raises(BadResolverSpec, match=problem) as info:
        parse_nameserver(spec)
    assert repr(spec) in str(info.value)


def test_system_nameservers_come_from_resolv_conf() -> None:
    try:
        servers = system_nameservers()
    except BadResolverSpec as err:
        assert "resolv.conf" in str(err)
    else:
        assert servers and all(s.port > 0 for s in servers)
