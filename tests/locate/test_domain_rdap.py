"""Domain registrants from RDAP domain objects, and the IANA bootstrap that finds the server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from residency.datasets.errors import FeedInvalid
from residency.datasets.rdap_bootstrap import (
    BUNDLED,
    DATASET,
    bundled_bootstrap,
    load_bootstrap,
    parse_bootstrap,
)
from residency.datasets.update import Status, update
from residency.locate.locator import manifest_sources
from residency.locate.registration.domain_rdap import DomainRdapLookup, parse_domain, related_link
from residency.locate.registration.rdap_parse import RdapMalformed
from residency.model import Confidence, Registrant
from residency.probe.controller import controller_for
from tests.locate import domain_fixtures as fx

WHEN = "2026-12-02T10:00:00Z"


def _parse(document: Any, name: str) -> Registrant:
    return parse_domain(document, name, "rdap.example", WHEN)


def test_registrant_org_and_country_from_the_vcard() -> None:
    found = _parse(fx.KNOWN, "globex.co.uk")
    assert (found.status, found.org, found.country) == ("known", "Globex Corporation Ltd", "GB")
    assert (found.server, found.fetched, found.domain) == ("rdap.example", WHEN, "globex.co.uk")


def test_org_kind_fn_nested_entity_and_spelt_out_country() -> None:
    found = _parse(fx.KNOWN_FN, "umbrella.fr")
    assert (found.status, found.org, found.country) == ("known", "Umbrella SAS", "FR")


@pytest.mark.parametrize(
    ("document", "name", "withheld"),
    [
        (fx.REDACTED, "initech.com", "name, organization, email"),
        (fx.REDACTED_VALUE, "hooli.net", "organisation (REDACTED FOR PRIVACY)"),
        (fx.PROXY, "vandelay.org", "organisation (Domains By Proxy, LLC)"),
    ],
)
def test_withheld_registrants_are_redacted_not_unknown(
    document: Any, name: str, withheld: str
) -> None:
    found = _parse(document, name)
    assert found.status == "redacted"
    assert found.org is None
    assert found.reason == f"withheld: {withheld}"
    assert found.country == "US"  # the country is often still published; it names nobody


def test_a_withheld_name_beside_a_published_org_is_still_known() -> None:
    registrant = {
        "roles": ["registrant"],
        "vcardArray": fx.vcard(
            ["fn", {}, "text", "REDACTED FOR PRIVACY"],
            ["org", {}, "text", "Initrode GmbH"],
            ["adr", {"cc": "DE"}, "text", ["", "", "", "", "", "", ""]],
        ),
    }
    name = [{"name": {"type": "Registrant Name"}, "method": "removal"}]
    found = _parse(fx.domain("initrode.com", registrant, redacted=name), "initrode.com")
    assert (found.status, found.org, found.country) == ("known", "Initrode GmbH", "DE")


def test_no_registrant_entity_is_unknown_with_the_reason() -> None:
    found = _parse(fx.domain("acme.com"), "acme.com")
    assert found.status == "unknown"
    assert found.reason == "rdap.example publishes no registrant for acme.com"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "not a JSON object"),
        (fx.WRONG_TYPES, "entities is not a list"),
        (fx.NOT_A_DOMAIN, "objectClassName is 'ip network', not 'domain'"),
        ({"errorCode": 404, "title": "Not Found"}, "error object 404"),
        (
            fx.domain("x.com", {"roles": ["registrant"], "vcardArray": ["vcard", "fn"]}),
            "registrant vcardArray is not a vCard",
        ),
        (fx.domain("x.com", redacted={"name": "Registrant Name"}), "redacted is not a list"),
    ],
)
def test_malformed_domain_objects_raise(document: Any, message: str) -> None:
    with pytest.raises(RdapMalformed, match=message):
        _parse(document, "x.com")


def test_related_link_https_or_same_origin_only() -> None:
    registry = "http://127.0.0.1:8080/domain/acme.com"
    assert related_link(
        fx.thin("acme.com", "https://rdap.registrar.example/domain/acme.com"), registry
    )
    same = fx.thin("acme.com", "http://127.0.0.1:8080/registrar/domain/acme.com")
    assert related_link(same, registry) == "http://127.0.0.1:8080/registrar/domain/acme.com"
    assert (
        related_link(fx.thin("acme.com", "http://elsewhere.example/domain/acme.com"), registry)
        is None
    )


# ------------------------------------------------------------------ controller ranking


def _known(org: str = "Globex Corporation Ltd") -> Registrant:
    return Registrant(
        "globex.co.uk", "known", org=org, country="GB", server="rdap.nominet.uk", fetched=WHEN
    )


def test_the_users_table_outranks_the_registrant_which_names_its_basis() -> None:
    """Issue 19's rank: certificate, the user's [controllers.known], entity tables, then
    the registrant (often redacted, or a brand-protection agent)."""
    table = {"globex.co.uk": ("Globex Holdings", "US")}
    assert controller_for("api.globex.co.uk", [], table, _known()).basis == "first-party table"
    controller = controller_for("api.globex.co.uk", [], None, _known())
    assert (controller.entity, controller.country) == ("Globex Corporation Ltd", "GB")
    assert controller.basis == "registrant (RDAP rdap.nominet.uk, 2026-12-02)"
    assert controller.confidence is Confidence.MEDIUM


def test_redacted_registrant_contributes_nothing_but_is_shown() -> None:
    redacted = Registrant(
        "initech.com", "redacted", reason="withheld: name", server="rdap.verisign.com"
    )
    table = {"initech.com": ("Initech LLC", "US")}
    listed = controller_for("initech.com", [], table, redacted)
    assert (listed.entity, listed.basis) == ("Initech LLC", "first-party table")
    assert "registrant redacted (initech.com, RDAP rdap.verisign.com)" in listed.why
    none = controller_for("initech.com", [], None, redacted)
    assert none.entity is None and none.basis == "none"
    assert none.why == "registrant redacted (initech.com, RDAP rdap.verisign.com)"


def test_unknown_registrant_is_a_reason_for_an_unknown_controller() -> None:
    missing = Registrant("missing.org", "unknown", reason="no RDAP registration for missing.org")
    controller = controller_for("missing.org", [], None, missing)
    assert controller.why == "registrant unknown (no RDAP registration for missing.org)"


# ------------------------------------------------------------------ bootstrap


def _registry(*services: list[list[str]], publication: str = "2026-11-30T19:00:01Z") -> bytes:
    return json.dumps(
        {
            "description": "RDAP bootstrap file",
            "publication": publication,
            "services": list(services),
            "version": "1.0",
        }
    ).encode()


def test_bootstrap_longest_suffix_wins_and_https_comes_first() -> None:
    table = parse_bootstrap(
        _registry(
            [["uk"], ["https://rdap.nominet.uk/uk/"]],
            [["co.uk"], ["http://plain.example/", "https://secure.example/"]],
        )
    )
    assert table.servers_for("shop.globex.co.uk") == (
        "https://secure.example/",
        "http://plain.example/",
    )
    assert table.servers_for("bbc.uk") == ("https://rdap.nominet.uk/uk/",)
    assert table.servers_for("example.de") == ()
    assert table.publication == "2026-11-30T19:00:01Z"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>", "not JSON"),
        (b'{"services": {}}', r"not an RDAP bootstrap registry \(no 'services' list\)"),
        (b'{"services": [], "publication": ""}', "no 'publication' date"),
        (_registry(["com", "https://x/"]), r"services\[0\] is not \[\[labels\], \[URLs\]\]"),
        (_registry([["com"], ["ftp://x/"]]), "no service lists a TLD"),
    ],
)
def test_bad_bootstrap_files_are_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(FeedInvalid, match=f"^{DATASET}: {message}"):
        parse_bootstrap(data)


def test_bundled_snapshot_answers_offline_for_the_main_tlds() -> None:
    table = bundled_bootstrap()
    assert table.origin == BUNDLED
    assert table.servers_for("example.com") == ("https://rdap.verisign.com/com/v1/",)
    assert table.servers_for("example.org") == ("https://rdap.publicinterestregistry.org/rdap/",)
    assert table.servers_for("bbc.co.uk") == ("https://rdap.nominet.uk/uk/",)
    assert load_bootstrap(Path("/nonexistent/residency-data")) == (table, "")


def test_data_update_installs_the_iana_file_and_it_wins(tmp_path: Path) -> None:
    body = _registry([["test"], ["https://rdap.test.example/"]], publication="2026-12-01T00:00:00Z")

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url == "https://data.iana.org/rdap/dns.json"
        return httpx.Response(200, content=body)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        report = update([DATASET], directory=tmp_path, client=client)
    (outcome,) = report.outcomes
    assert outcome.status is Status.UPDATED, outcome
    assert (outcome.version, outcome.records) == ("2026-12-01T00:00:00Z", 1)
    table, note = load_bootstrap(tmp_path)
    assert note == "" and table.servers_for("a.b.test") == ("https://rdap.test.example/",)
    assert table.origin.endswith("dns.json") and table.origin != BUNDLED
    assert manifest_sources(tmp_path) == []  # no ranges: never compiled into the index


def test_data_update_offline_keeps_the_bundled_snapshot_in_one_line(tmp_path: Path) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("network unreachable", request=request)

    with httpx.Client(transport=httpx.MockTransport(unreachable)) as client:
        report = update([DATASET], directory=tmp_path, client=client)
    (outcome,) = report.outcomes
    assert outcome.status is Status.FAILED
    assert outcome.detail.endswith("(the bundled snapshot is used instead)"), outcome.detail
    assert "\n" not in outcome.line()
    assert load_bootstrap(tmp_path)[0].origin == BUNDLED


# ------------------------------------------------------------------ lookups without a network


def test_names_without_a_registrable_domain_make_no_query() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"queried {request.url}")

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        lookup = DomainRdapLookup(client, bundled_bootstrap())
        for host in ("co.uk", "192.0.2.1", "localhost", "host.internal"):
            found = lookup.lookup(host)
            assert (found.status, found.domain) == ("unknown", None), host
            assert "has no registrable domain" in found.reason
        missing = lookup.lookup("www.example.de")
    assert missing.status == "unknown" and missing.domain == "example.de"
    assert missing.reason.startswith("no RDAP server listed for .de (IANA RDAP bootstrap ")
    assert lookup.queries == 0
