"""One table of address spellings, read the same by every caller of ``parse_address``."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import NamedTuple

import pytest

from residency.addresses import AddressError, parse_address
from residency.endpoints.errors import InvalidEntry
from residency.endpoints.har import server_ip
from residency.endpoints.normalise import normalise_host
from residency.locate.registration.rdap_client import _parse_address as rdap_address
from residency.monitor.loop import _is_ip
from residency.resolve.errors import BadResolverSpec
from residency.resolve.nameservers import parse_nameserver


class Case(NamedTuple):
    text: str
    canonical: str | None  # None: rejected
    reason: str = ""  # a piece of the error message when rejected
    zone: str | None = None


NOT_ONE = "is not an IPv4 or IPv6 address"
ZERO = "leading zero in an IPv4 part is ambiguous"

CASES = [
    Case("192.0.2.1", "192.0.2.1"),
    Case(" 192.0.2.1\t", "192.0.2.1"),
    Case("0.0.0.0", "0.0.0.0"),
    Case("255.255.255.255", "255.255.255.255"),
    Case("2001:DB8::1", "2001:db8::1"),
    Case("2001:db8:0:0:0:0:0:1", "2001:db8::1"),
    Case("[2001:db8::1]", "2001:db8::1"),
    Case("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
    Case("fe80::1%eth0", "fe80::1", zone="eth0"),
    Case("fe80::1%25eth0", "fe80::1", zone="eth0"),  # RFC 6874, as written in URLs
    Case("010.1.1.1", None, ZERO),
    Case("1.2.3.04", None, ZERO),
    Case("::ffff:01.2.3.4", None, ZERO),
    Case("127.1", None, NOT_ONE),
    Case("0x7f.0.0.1", None, NOT_ONE),
    Case("2130706433", None, NOT_ONE),
    Case("999.1.1.1", None, NOT_ONE),
    Case("1.2.3.4.5", None, NOT_ONE),
    Case("2001:db8::zz", None, NOT_ONE),
    Case("[192.0.2.1]", None, "square brackets are only for IPv6"),
    Case("192.0.2.1%eth0", None, "a zone id is only for IPv6"),
    Case("fe80::1%", None, "zone id"),
    Case("", None, "empty address"),
]
IDS = [repr(c.text) for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_parse_address(case: Case) -> None:
    if case.canonical is None:
        with pytest.raises(AddressError, match=case.reason) as info:
            parse_address(case.text)
        assert repr(case.text) in str(info.value)  # the message names the input
        return
    address = parse_address(case.text)
    assert (address.text, address.zone) == (case.canonical, case.zone)
    assert address.packed == ipaddress.ip_address(case.canonical).packed


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_normalise_host(case: Case) -> None:
    if case.canonical is None:
        with pytest.raises(InvalidEntry):
            normalise_host(case.text)
        return
    endpoint = normalise_host(case.text)
    assert (endpoint.host, endpoint.is_ip) == (case.canonical, True)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nameserver(case: Case) -> None:
    if case.canonical is None:
        with pytest.raises(BadResolverSpec, match=case.reason.replace(NOT_ONE, "not an IP")):
            parse_nameserver(case.text)
        return
    # a link-local resolver is only reachable through its zone: kept for the socket
    expected = case.canonical if case.zone is None else f"{case.canonical}%{case.zone}"
    assert parse_nameserver(case.text).host == expected


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rdap_and_monitor_and_har(case: Case) -> None:
    found = rdap_address(case.text)
    if case.canonical is None:
        assert found is None
        assert not _is_ip(case.text.strip())
        assert server_ip(case.text) is None
        return
    assert found is not None and found.packed == ipaddress.ip_address(case.canonical).packed
    assert _is_ip(case.text.strip())
    har = server_ip(case.text)
    # HAR's one documented difference: a dual-stack socket's ::ffff:a.b.c.d was IPv4
    assert har == ("192.0.2.1" if case.canonical.startswith("::ffff:") else case.canonical)


@pytest.fixture(scope="module")
def locator(small_dataset: Path):  # type: ignore[no-untyped-def]
    from residency.locate.locator import Locator

    return Locator.load(small_dataset, geoip=())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_locator_and_bulk(case: Case, locator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from residency.locate.bulk import BulkProblem, bulk_rows
    from residency.locate.errors import InvalidAddress

    listing = tmp_path / "addresses.txt"
    listing.write_text(case.text + "\n")
    rows = list(bulk_rows(locator, [str(listing)]))
    if case.canonical is None:
        with pytest.raises(InvalidAddress, match=case.reason):
            locator.locate(case.text)
        with pytest.raises(InvalidAddress, match=case.reason):
            locator.combos([case.text])
        if case.text.strip():  # a blank line is skipped, not an error
            assert len(rows) == 1 and isinstance(rows[0], BulkProblem)
            assert case.reason in rows[0]
        return
    facts = locator.locate(case.text)
    assert facts.ip == case.canonical
    assert list(locator.combos([case.text])) == list(locator.combos([case.canonical]))
    assert [row[0] for row in rows] == [case.canonical]
    if case.zone:
        assert f"zone id %{case.zone} dropped" in facts.location.why
