"""Host, URL and address normalisation, and the one-line problems for bad entries."""

from __future__ import annotations

import re

import pytest

from residency.endpoints import InvalidEntry, normalise_host


@pytest.mark.parametrize(
    ("text", "host", "display", "is_ip"),
    [
        ("Example.COM.", "example.com", "Example.COM", False),
        ("  api.example.com  ", "api.example.com", "api.example.com", False),
        ("bücher.example", "xn--bcher-kva.example", "bücher.example", False),
        ("BÜCHER.example", "xn--bcher-kva.example", "BÜCHER.example", False),
        ("https://münchen.example/path", "xn--mnchen-3ya.example", "münchen.example", False),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", "xn--bcher-kva.example", False),
        (
            "https://user:secret@Pay.Example.com:8443/x?y#z",
            "pay.example.com",
            "Pay.Example.com",
            False,
        ),
        ("http://[2001:DB8::1]:8080/", "2001:db8::1", "2001:DB8::1", True),
        ("[2001:db8::1]:443", "2001:db8::1", "2001:db8::1", True),
        ("2001:0db8:0000::0001", "2001:db8::1", "2001:0db8:0000::0001", True),
        ("fe80::1%eth0", "fe80::1", "fe80::1%eth0", True),
        ("192.0.2.7", "192.0.2.7", "192.0.2.7", True),
        ("192.0.2.7:8443", "192.0.2.7", "192.0.2.7", True),
        ("https://192.0.2.7/", "192.0.2.7", "192.0.2.7", True),
        ("example.com:443", "example.com", "example.com", False),
        ("example.com/some/path", "example.com", "example.com", False),
        ("//cdn.example.net/lib.js", "cdn.example.net", "cdn.example.net", False),
        ("_dmarc.example.com", "_dmarc.example.com", "_dmarc.example.com", False),
        ("localhost", "localhost", "localhost", False),
        ("a" * 63 + ".example", "a" * 63 + ".example", "a" * 63 + ".example", False),
    ],
)
def test_normalises(text: str, host: str, display: str, is_ip: bool) -> None:
    endpoint = normalise_host(text, origin="argv")
    assert (endpoint.host, endpoint.display, endpoint.is_ip) == (host, display, is_ip)
    assert endpoint.origin == "argv"


def test_a_name_of_253_octets_is_accepted_and_254_is_not() -> None:
    name = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(name) == 253
    assert normalise_host(name).host == name
    with pytest.raises(InvalidEntry, match="254 octets long"):
        normalise_host(name + "b")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty entry"),
        ("a" * 64 + ".example", "64 octets (at most 63)"),
        ("https:///path-only", "URL without a host"),
        ("https://", "URL without a host"),
        ("exa mple.com", "white space"),
        ("ex!ample.com", "bad character '!'"),
        ("under$score.example", "bad character '$'"),
        ("-lead.example", "starts or ends with a hyphen"),
        ("trail-.example", "starts or ends with a hyphen"),
        ("a..b.example", "empty label"),
        (".example", "empty label"),
        ("1.2.3.999", "looks like an IP address"),
        ("2001:db8::zz", "not a valid IPv6 address"),
        ("[2001:db8::1", "unclosed '['"),
        ("example.com:99999", "port 99999 is out of range"),
        ("example.com:https", "bad port"),
        ("https://example.com:99999/", "malformed URL"),
        ("xn--a.example", "not valid punycode"),
        ("☃\u200d.example", "not a valid international domain name"),
    ],
)
def test_bad_entries_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(InvalidEntry, match=re.escape(problem)):
        normalise_host(text)
