"""Anycast without the measured list: the services whose operators document them as anycast."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.datasets.anycast_table import (
    DOCUMENTED_ANYCAST_LAYER,
    AnycastTableInvalid,
    anycast_services,
    parse_anycast_table,
    whole_network_anycast,
)
from residency.datasets.status import data_status
from residency.locate.index.layers import documented_anycast_layer
from residency.locate.index.read import LayerInfo
from residency.locate.index.specs import SourceSpec
from residency.locate.locator import Locator
from residency.locate.providers import ProviderRegistry
from residency.locate.trust.merge import claim_evidence
from residency.model import Confidence, EvidenceKind
from tests.locate.fixtures import write_ipdb_layout, write_maxmind_layout
from tests.locate.test_merge import asn_of, geoip, merge
from tests.support import FIXTURES


def test_every_entry_names_its_source_and_parses() -> None:
    services = anycast_services()
    ids = {s.service for s in services}
    assert {"cloudflare-edge", "cloudflare-dns", "google-public-dns", "quad9", "opendns"} <= ids
    assert {"fastly-edge", "root-servers"} <= ids
    for service in services:
        assert service.source.startswith("https://") and service.anycast_source.startswith("https")
        assert service.prefixes
    assert set(whole_network_anycast()) == {"cloudflare"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[service]]\nid = "x"\noperator = "X"\nprefixes = ["1.2.3.0/24"]\n', "lacks 'source'"),
        (
            '[[service]]\nid = "x"\noperator = "X"\nsource = "http://x"\nprefixes = ["1.2.3.0/24"]',
            "https URL",
        ),
        (
            '[[service]]\nid="x"\noperator="X"\nsource="https://x"\nprefixes=["1.2.3.300/32"]',
            "bad prefix '1.2.3.300/32'",
        ),
        ('[[service]]\nid="x"\noperator="X"\nsource="https://x"\nprefixes=[]', "non-empty"),
        ("service = [", "not TOML"),
    ],
)
def test_a_bad_table_entry_is_named(text: str, problem: str) -> None:
    with pytest.raises(AnycastTableInvalid, match=problem.replace("(", r"\(")):
        parse_anycast_table(text, "t.toml")


def documented(prefix: str) -> object:
    layer = documented_anycast_layer(anycast_services())
    claim = next(c for c in layer.claims if c["p"] == prefix)
    info = LayerInfo(DOCUMENTED_ANYCAST_LAYER, EvidenceKind.ANYCAST.value, "t")
    return claim_evidence(info, claim)


def test_the_table_overrides_geoip(registry: ProviderRegistry) -> None:
    facts = merge(
        "8.8.8.8",
        [documented("8.8.8.8/32"), geoip("geoip:a", "US"), geoip("geoip:b", "US")],
        (),
        registry,
    )
    assert facts.anycast and facts.location.place is None
    assert facts.location.basis == "anycast" and facts.location.confidence is Confidence.NONE
    assert "documented by Google" in facts.anycast_basis
    assert "developers.google.com" in facts.anycast_basis
    assert "would say US" in facts.location.why


def test_a_cloudflare_edge_by_asn_alone_gets_no_geoip_place(registry: ProviderRegistry) -> None:
    # outside every listed range, known as Cloudflare only by its ASN: the whole network
    # is anycast, so the two GeoIP databases agreeing on a country is not where it serves
    facts = merge(
        "104.30.0.1",
        [asn_of(13335, "Cloudflare, Inc."), geoip("geoip:a", "US"), geoip("geoip:b", "US")],
        (),
        registry,
    )
    assert facts.cdn and facts.anycast and facts.location.place is None
    assert facts.location.confidence is not Confidence.MEDIUM
    assert "whole network is anycast" in facts.anycast_basis


def test_an_edge_of_a_cdn_not_wholly_anycast_keeps_its_place(registry: ProviderRegistry) -> None:
    facts = merge(
        "185.93.1.1",
        [asn_of(200325, "BunnyWay d.o.o."), geoip("geoip:a", "DE"), geoip("geoip:b", "DE")],
        (),
        registry,
    )
    assert facts.cdn and not facts.anycast and facts.location.country == "DE"


@pytest.fixture(scope="module")
def registry() -> ProviderRegistry:
    return ProviderRegistry.load()


def test_a_fresh_offline_install_calls_the_public_resolvers_anycast(tmp_path: Path) -> None:
    # what the mirrors give: GeoIP databases and an ASN table, no feed, no measured list
    specs = [
        SourceSpec(
            "dbip", "mmdb-country", "t", (write_maxmind_layout(tmp_path / "GeoLite2-t.mmdb"),)
        ),
        SourceSpec("ipdb", "mmdb-country", "t", (write_ipdb_layout(tmp_path / "ipdb-t.mmdb"),)),
        SourceSpec("asn", "asn-csv", "t", (FIXTURES / "locate" / "asn-ipv4.csv",)),
    ]
    locator = Locator.load(tmp_path, sources=specs, compiled_dir=tmp_path / "c")
    for ip in ("1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "9.9.9.9", "198.41.0.4"):
        facts = locator.locate(ip)
        assert facts.anycast, ip
        assert facts.location.place is None and facts.location.basis == "anycast", ip
        assert "documented by" in facts.anycast_basis, ip
    # only the addresses the operator lists: 8.8.8.9 is not Google Public DNS
    assert not any(e.source == DOCUMENTED_ANYCAST_LAYER for e in locator.locate("8.8.8.9").evidence)
    assert any(e.source == DOCUMENTED_ANYCAST_LAYER for e in locator.locate("1.1.1.1").evidence)


def test_status_says_what_the_missing_measured_list_costs(tmp_path: Path) -> None:
    status = data_status(tmp_path)
    row = next(r for r in status.datasets if r.kind == "anycast")
    assert not row.present
    assert "documented services in data/anycast.toml" in row.problem
    assert "gets the single place a GeoIP database gives it" in row.problem
