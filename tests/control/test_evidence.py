"""Merging the tables with provenance, ownership chains, customer domains, ranking."""

from __future__ import annotations

from pathlib import Path

from residency.control.evidence import ControlEvidence
from residency.control.rank import controller_for
from residency.control.sovereign import default_sovereign_clouds
from residency.model import (
    CertInfo,
    ChainStep,
    Endpoint,
    EndpointResult,
    Outcome,
    ProbeResult,
    Resolution,
)
from tests.control.fixtures import real_index, small_index


def test_real_disagreement_parent_named_instead_of_subsidiary() -> None:
    evidence = ControlEvidence(entities=real_index())
    found = evidence.from_tables("ad1.adition.com")
    assert found is not None and found.entity == "Adition Technologies AG"
    assert found.country == "DE"
    assert [(p.entity, p.country) for p in found.parents] == [("Virtual Minds AG", "DE")]
    assert found.basis.startswith("entity-list webxray 2019-12-18; disconnect 2026-08-07")
    assert found.chain_text().startswith(
        "Adition Technologies AG (DE) → Virtual Minds AG (DE) "
        "[entity-list webxray 2019-12-18; disconnect 2026-08-07"
    )
    assert any("names Virtual Minds AG, an owner of" in d for d in found.disagreements)


def test_real_disagreements_inq_and_bazaarvoice_are_listed() -> None:
    evidence = ControlEvidence(entities=real_index())
    inq = evidence.from_tables("inq.com")
    assert inq is not None and inq.entity == "TouchCommerce, Inc."
    assert inq.ultimate is not None and inq.ultimate.entity == "Microsoft Corporation"
    assert any("Microsoft" in d for d in inq.disagreements)
    bazaar = evidence.from_tables("bazaarvoice.com")
    assert bazaar is not None and bazaar.entity == "Bazaarvoice, Inc."
    assert any("Marlin Equity Partners" in d for d in bazaar.disagreements)
    listed = evidence.disagreements()
    assert any(d.startswith("inq.com: ") for d in listed)
    assert any(d.startswith("bazaarvoice.com: ") for d in listed)


def test_conflicting_owners_without_a_known_relation(tmp_path: Path) -> None:
    index = small_index(
        tmp_path,
        [{"id": 1, "owner_name": "Old Owner", "country": "FR", "domains": ["contested.example"]}],
        {"New Owner": {"properties": [], "resources": ["contested.example"]}},
    )
    found = ControlEvidence(entities=index).from_tables("x.contested.example")
    assert found is not None
    assert found.entity == "New Owner"  # the newer table wins a real disagreement...
    assert found.disagreements == ("contested.example: webxray 2019-12-18 says Old Owner",)
    assert found.country is None  # ...and only webXray gives countries: not borrowed across
    assert found.parent_unknown.startswith("parent unknown")


def test_a_parent_cycle_stops(tmp_path: Path) -> None:
    index = small_index(
        tmp_path,
        [
            {
                "id": 1,
                "parent_id": 2,
                "owner_name": "Alpha Ads",
                "country": "NL",
                "domains": ["alpha.example"],
            },
            {"id": 2, "parent_id": 3, "owner_name": "Beta Holding", "country": "LU", "domains": []},
            {"id": 3, "parent_id": 1, "owner_name": "Gamma Group", "country": "CY", "domains": []},
        ],
        {"Unrelated": {"properties": [], "resources": ["unrelated.example"]}},
    )
    found = ControlEvidence(entities=index).from_tables("alpha.example")
    assert found is not None
    assert [p.entity for p in found.parents] == ["Beta Holding", "Gamma Group"]
    assert "cycle" in found.parent_unknown
    assert all(p.source == "entity-list webxray 2019-12-18" for p in found.parents)


def test_customer_host_never_gets_the_provider() -> None:
    evidence = ControlEvidence(entities=real_index())
    for host in (
        "d22xmn10vbouk4.cloudfront.net",
        "myapp.herokuapp.com",
        "cdn1.azureedge.net",
        "me.github.io",
        "bucket.s3.amazonaws.com",
        "acct.blob.core.windows.net",
        "x.vercel.app",
        "y.netlify.app",
        "z.web.app",
        "w.appspot.com",
    ):
        found = evidence.from_tables(host)
        assert found is not None and found.entity is None, host
        assert found.hosted_by and found.why.startswith("controller unknown, because"), host
    assert evidence.from_tables("cloudfront.net").entity is not None  # the provider's own


def test_cname_to_a_customer_suffix_does_not_change_the_controller() -> None:
    evidence = ControlEvidence(entities=real_index())
    result = EndpointResult(
        Endpoint("ad1.adition.com", "ad1.adition.com"),
        (
            Resolution(
                "ad1.adition.com",
                Outcome.RESOLVED,
                chain=(ChainStep("ad1.adition.com", "CNAME", "d22xmn10vbouk4.cloudfront.net", 60),),
            ),
        ),
        (),
    )
    annotated = evidence.annotate(result)
    assert annotated.controller is not None
    assert annotated.controller.entity == "Adition Technologies AG"


def test_rank_certificate_then_known_table_then_tables_then_registrant() -> None:
    evidence = ControlEvidence(entities=real_index(), table={"adition.com": ("Us Ltd", "GB")})
    ov = ProbeResult(
        "tls", "192.0.2.1", 443, "ok", verified=True,
        cert=CertInfo(subject_o="Cert Org AG", subject_c="CH", validation="ov", issuer="CA"),
    )  # fmt: skip
    dv = ProbeResult("tls", "192.0.2.1", 443, "ok", verified=True, cert=CertInfo(validation="dv"))
    assert (
        controller_for("a.adition.com", [ov], evidence.table, None, evidence.from_tables).entity
        == "Cert Org AG"
    )
    assert (
        controller_for("a.adition.com", [dv], evidence.table, None, evidence.from_tables).entity
        == "Us Ltd"
    )
    found = controller_for("a.adition.com", [dv], {}, None, evidence.from_tables)
    assert found.entity == "Adition Technologies AG" and "DV certificate" in found.why


def test_sovereign_clouds_by_name_and_region() -> None:
    clouds = default_sovereign_clouds()
    cloud = clouds.recognise(["app.example", "bucket.s3.eusc-de-east-1.amazonaws.eu"], [])
    assert cloud is not None and cloud.offering == "aws-eusc"
    assert cloud.ultimate.entity == "Amazon.com, Inc." and cloud.ultimate.country == "US"
    assert clouds.recognise(["x.s3nsapis.fr"], []).offering == "s3ns"  # type: ignore[union-attr]
    from tests.policy.factories import facts

    oracle = clouds.recognise([], [facts(provider="oracle", region="eu-madrid-2", country="ES")])
    assert oracle is not None and oracle.offering == "oracle-eusc"
    assert oracle.basis == "region oracle:eu-madrid-2"
    assert (
        clouds.recognise(["www.example.com"], [facts(provider="aws", region="eu-central-1")])
        is None
    )
