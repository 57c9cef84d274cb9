"""RDAP registration -> provider registry -> operator jurisdiction -> policy verdict,
end to end against a local RDAP server on 127.0.0.1 and the shipped EU policy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from residency.locate.providers import ProviderRegistry
from residency.locate.registration.rdap_cache import MemoryRdapCache
from residency.locate.registration.rdap_client import RdapLookup
from residency.locate.registration.rdap_evidence import describe
from residency.model import (
    Confidence,
    Endpoint,
    EndpointResult,
    IpFacts,
    Location,
    Outcome,
    Place,
    Registration,
    Resolution,
    ResolvedAddress,
    Verdict,
)
from residency.paths import project_data_dir
from residency.policy import evaluate, load_policy
from tests.integration.rdapserver import RdapServer

pytestmark = pytest.mark.integration


def network(start: str, end: str, name: str, org: str, country: str) -> dict[str, object]:
    return {
        "objectClassName": "ip network",
        "handle": f"NET-{start}",
        "startAddress": start,
        "endAddress": end,
        "ipVersion": "v4",
        "name": name,
        "country": country,
        "port43": "whois.ripe.net",
        "entities": [
            {
                "handle": f"ORG-{name}",
                "roles": ["registrant"],
                "vcardArray": ["vcard", [["fn", {}, "text", org], ["kind", {}, "text", "org"]]],
            }
        ],
    }


@pytest.fixture
def server() -> Iterator[RdapServer]:
    running = RdapServer(
        [
            network("34.0.0.0", "34.255.255.255", "GOOGLE-CLOUD", "Google LLC", "US"),
            network("5.9.0.0", "5.9.255.255", "HETZNER-RZ-FSN1-BLK", "Hetzner Online GmbH", "DE"),
        ]
    )
    try:
        yield running
    finally:
        running.stop()


def judged(ip: str, registration: Registration, hosted_in: str) -> tuple[Verdict, str, str]:
    """Build the facts as the locator would (location from feeds, operator from the
    registrant via the provider registry) and judge them with eu-sovereign.toml."""
    registry = ProviderRegistry.load()
    facts = IpFacts(
        ip=ip,
        routable=True,
        location=Location(Place(hosted_in), Confidence.HIGH, basis="geofeed"),
        operator=registry.operator_for(None, None, org=registration.org),
        registration=registration,
    )
    result = EndpointResult(
        endpoint=Endpoint(host="app.example", display="app.example"),
        resolutions=(
            Resolution(
                name="app.example",
                outcome=Outcome.RESOLVED,
                addresses=(ResolvedAddress(ip, 60, "A"),),
            ),
        ),
        facts=(facts,),
    )
    policy = load_policy(project_data_dir() / "policies" / "eu-sovereign.toml")
    verdict = evaluate(policy, result, date(2026, 11, 28))
    address = verdict.addresses[0]
    messages = " | ".join(r.message for r in address.reasons)
    return address.verdict, address.aspect, messages


def test_us_operator_fails_on_the_operator_side(server: RdapServer) -> None:
    with httpx.Client() as client:
        lookup = RdapLookup(client, server.base_url, MemoryRdapCache(), timeout=5)
        registration = lookup.lookup("34.107.1.1")
        same_block = lookup.lookup("34.64.9.9")
    assert registration.org == "Google LLC" and same_block == registration
    assert server.requests == ["/ip/34.107.1.1"]
    assert describe(registration, Location(Place("DE"), Confidence.HIGH, "geofeed")) == (
        "registered to Google LLC, US; hosted in DE"
    )
    verdict, aspect, messages = judged("34.107.1.1", registration, hosted_in="DE")
    assert verdict is Verdict.FAIL
    assert aspect == "operator"
    assert "US" in messages


def test_eu_operator_in_the_eu_passes(server: RdapServer) -> None:
    with httpx.Client() as client:
        lookup = RdapLookup(client, server.base_url, MemoryRdapCache(), timeout=5)
        registration = lookup.lookup("5.9.10.10")
    assert (registration.org, registration.country) == ("Hetzner Online GmbH", "DE")
    verdict, _, _ = judged("5.9.10.10", registration, hosted_in="DE")
    assert verdict is Verdict.PASS


def test_rdap_unreachable_is_indeterminate_not_a_crash(server: RdapServer) -> None:
    url = server.base_url
    server.stop()  # nothing listens any more
    with httpx.Client() as client:
        lookup = RdapLookup(client, url, MemoryRdapCache(), timeout=2)
        registration = lookup.lookup("34.107.1.1")
    assert registration.status == "unknown"
    assert registration.reason.startswith("RDAP unreachable")
    verdict, aspect, messages = judged("34.107.1.1", registration, hosted_in="DE")
    assert verdict is Verdict.INDETERMINATE
    assert aspect == "operator"
    # eu-sovereign judges the operator's ultimate parent: unknown operator, unknown parent
    assert "operator jurisdiction unknown" in messages
