"""Parsing real recorded RDAP answers (ipwhois's own fixtures) into Registration facts."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from residency.locate.registration.rdap_evidence import describe
from residency.locate.registration.rdap_parse import RdapMalformed, parse_rdap
from residency.model import Confidence, Location, Place, Registration
from tests.support import shared


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        shared("rdap", "ipwhois-tests-rdap_2015-10-18.json").read_text(encoding="utf-8")
    )
    return data


def test_every_recorded_answer_parses_and_covers_its_query(recorded: dict[str, Any]) -> None:
    assert len(recorded) == 10
    for ip, case in recorded.items():
        answer = parse_rdap(case["response"])
        assert answer.registration.status == "known", ip
        assert answer.covers(ipaddress.ip_address(ip)), ip
        assert answer.registration.rir is not None, ip
        assert answer.registration.cidr, ip


def test_arin_google_ipv4(recorded: dict[str, Any]) -> None:
    answer = parse_rdap(
        recorded["74.125.225.229"]["response"], url="https://rdap.arin.net/registry/ip/x"
    )
    reg = answer.registration
    assert reg.network_name == "GOOGLE"
    assert reg.handle == "NET-74-125-0-0-1"
    assert reg.cidr == "74.125.0.0/16"
    assert reg.org == "Google Inc."
    # ARIN sends no network country; it comes from the registrant's vCard address.
    assert reg.country == "US"
    assert reg.rir == "ARIN"
    assert reg.abuse_email == "arin-contact@google.com"
    # Zero-padded "074.125.000.000" is read as 74.125.0.0.
    assert (str(answer.first), str(answer.last)) == ("74.125.0.0", "74.125.255.255")
    assert reg.source == "rdap https://rdap.arin.net/registry/ip/x"


def test_arin_google_ipv6_abuse_contact(recorded: dict[str, Any]) -> None:
    reg = parse_rdap(recorded["2001:4860:4860::8888"]["response"]).registration
    assert (reg.network_name, reg.cidr, reg.org) == ("GOOGLE-IPV6", "2001:4860::/32", "Google Inc.")
    assert reg.abuse_email == "arin-contact@google.com"
    assert reg.rir == "ARIN"


def test_ripe_bt_network_with_only_an_abuse_entity(recorded: dict[str, Any]) -> None:
    answer = parse_rdap(recorded["62.239.237.1"]["response"])
    reg = answer.registration
    assert reg.network_name == "BT-CORPORATE"
    assert reg.cidr == "62.239.237.0/24"
    assert reg.country == "GB"
    assert reg.rir == "RIPE NCC"
    assert reg.abuse_email == "zzdnsr@bt.com"
    # No registrant role in this answer: the organisation is unknown, not guessed.
    assert reg.org is None


def test_ripe_ipv6_with_prefix_lengths_in_the_addresses(recorded: dict[str, Any]) -> None:
    answer = parse_rdap(recorded["2a00:2381:ffff::1"]["response"])
    assert str(answer.first) == "2a00:2381:ffff::"
    assert answer.registration.cidr == "2a00:2381:ffff::/64"


def test_lacnic_registrant_org_and_country(recorded: dict[str, Any]) -> None:
    reg = parse_rdap(recorded["200.57.141.161"]["response"]).registration
    assert reg.org == "Triara.com, S.A. de C.V."
    assert reg.country == "MX"
    assert reg.rir == "LACNIC"
    assert reg.abuse_email == "operacion.redes@TRIARA.COM"


def test_apnic_krnic_network(recorded: dict[str, Any]) -> None:
    reg = parse_rdap(recorded["210.107.73.73"]["response"]).registration
    assert reg.network_name == "BORANET-NET-210-107"
    assert reg.cidr == "210.107.0.0/17"
    assert (reg.country, reg.rir) == ("KR", "APNIC")
    assert reg.abuse_email == "hostmaster@nic.or.kr"


def test_afrinic_range_that_is_not_one_cidr(recorded: dict[str, Any]) -> None:
    answer = parse_rdap(recorded["196.11.240.215"]["response"])
    reg = answer.registration
    assert reg.cidr == "196.11.239.0/24, 196.11.240.0/22, 196.11.244.0/23, 196.11.246.0/24"
    assert (reg.country, reg.rir) == ("ZA", "AFRINIC")
    assert (str(answer.first), str(answer.last)) == ("196.11.239.0", "196.11.246.255")


def test_apnic_jpnic_ipv6(recorded: dict[str, Any]) -> None:
    reg = parse_rdap(recorded["2001:240:10c:1::ca20:9d1d"]["response"]).registration
    assert (reg.network_name, reg.cidr, reg.country, reg.rir) == (
        "IIJ-JPNIC-JP-20000308",
        "2001:240::/32",
        "JP",
        "APNIC",
    )


def test_entity_fixture_is_not_a_network() -> None:
    entity = json.loads(shared("rdap", "ipwhois-tests-entity_2015-10-18.json").read_text())
    with pytest.raises(RdapMalformed):
        parse_rdap(entity)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "not a JSON object"),
        ({"errorCode": 404, "title": "Not Found"}, "error object 404 Not Found"),
        ({"handle": "X", "ipVersion": "v4"}, "IP address data is missing"),
        (
            {
                "handle": "X",
                "ipVersion": "v4",
                "startAddress": "10.0.0.9",
                "endAddress": "10.0.0.1",
            },
            "bad network range",
        ),
    ],
)
def test_unusable_objects_raise_rdap_malformed(document: object, message: str) -> None:
    with pytest.raises(RdapMalformed, match=message):
        parse_rdap(document)


def test_modern_rir_answer_with_nested_abuse_and_cc_parameter() -> None:
    document = {
        "objectClassName": "ip network",
        "handle": "NET-203-0-113-0-1",
        "startAddress": "203.0.113.0",
        "endAddress": "203.0.113.255",
        "ipVersion": "v4",
        "name": "XIAOMI-NET",
        "entities": [
            {
                "handle": "ORG-XI1-AP",
                "roles": ["registrant"],
                "vcardArray": [
                    "vcard",
                    [
                        ["version", {}, "text", "4.0"],
                        ["fn", {}, "text", "Xiaomi Inc."],
                        ["kind", {}, "text", "org"],
                        ["adr", {"cc": "CN", "label": "Beijing"}, "text", ""],
                    ],
                ],
                "entities": [
                    {
                        "handle": "IRT-XIAOMI-CN",
                        "roles": ["abuse"],
                        "vcardArray": [
                            "vcard",
                            [["fn", {}, "text", "IRT"], ["email", {}, "text", "abuse@example.cn"]],
                        ],
                    }
                ],
            }
        ],
    }
    reg = parse_rdap(document, url="https://rdap.apnic.net/ip/203.0.113.7").registration
    assert (reg.org, reg.country, reg.abuse_email, reg.rir) == (
        "Xiaomi Inc.",
        "CN",
        "abuse@example.cn",
        "APNIC",
    )


def test_describe_keeps_registration_and_location_apart() -> None:
    registration = Registration(status="known", org="Xiaomi Inc.", country="CN")
    location = Location(Place("SG"), Confidence.HIGH, basis="provider-feed")
    assert describe(registration, location) == "registered to Xiaomi Inc., CN; hosted in SG"
    anycast = Location(None, Confidence.NONE, basis="provider-feed", why="anycast edge")
    down = Registration(status="unknown", reason="RDAP unreachable")
    assert describe(down, anycast) == (
        "registration unknown (RDAP unreachable); hosted: unknown (anycast edge)"
    )
    assert describe(None, None) == "registration not looked up; location not determined"
