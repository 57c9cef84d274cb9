"""The provider registry: the shipped table is sound, lookups connect ASN -> provider ->
jurisdiction, and a malformed file fails in one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.locate import providers
from residency.locate.providers import ProviderRegistry, ProvidersFileInvalid
from residency.model import Operator

CANONICAL = [
    "aws",
    "gcp",
    "google",
    "azure",
    "oracle",
    "cloudflare",
    "fastly",
    "github",
    "digitalocean",
    "linode",
    "vultr",
    "alibaba",
    "akamai",
    "hetzner",
    "ovh",
]


@pytest.fixture(scope="module")
def registry() -> ProviderRegistry:
    return ProviderRegistry.load()


def test_every_canonical_provider_is_present_with_a_source(registry: ProviderRegistry) -> None:
    for provider_id in CANONICAL:
        provider = registry.get(provider_id)
        assert provider is not None, provider_id
        assert provider.source.startswith("https://")
        assert len(provider.jurisdiction) == 2


def test_every_entry_has_entity_jurisdiction_and_source(registry: ProviderRegistry) -> None:
    assert len(registry) >= 30
    for provider in registry:
        assert provider.entity and provider.name
        assert provider.jurisdiction.isupper() and len(provider.jurisdiction) == 2
        assert provider.source.startswith(("https://", "http://"))


@pytest.mark.parametrize(
    ("asn", "provider_id", "jurisdiction"),
    [
        (16509, "aws", "US"),
        (14618, "aws", "US"),
        (15169, "google", "US"),
        (396982, "gcp", "US"),
        (8075, "microsoft", "US"),
        (13335, "cloudflare", "US"),
        (209242, "cloudflare", "US"),
        (54113, "fastly", "US"),
        (20940, "akamai", "US"),
        (31898, "oracle", "US"),
        (14061, "digitalocean", "US"),
        (63949, "linode", "US"),
        (20473, "vultr", "US"),
        (45102, "alibaba", "CN"),
        (37963, "alibaba", "CN"),
        (24940, "hetzner", "DE"),
        (16276, "ovh", "FR"),
        (36459, "github", "US"),
        (132203, "tencent", "CN"),
        (45090, "tencent", "CN"),
        (136907, "huawei", "CN"),
        (55836, "reliance-jio", "IN"),
        (4134, "china-telecom", "CN"),
        (3320, "deutsche-telekom", "DE"),
        (13238, "yandex", "RU"),
    ],
)
def test_asn_to_provider_to_jurisdiction(
    registry: ProviderRegistry, asn: int, provider_id: str, jurisdiction: str
) -> None:
    operator = registry.operator_for(None, asn)
    assert operator.provider == provider_id
    assert operator.jurisdiction == jurisdiction
    assert operator.basis == f"asn AS{asn}"


def test_aws_in_mumbai_is_operated_under_us_jurisdiction(registry: ProviderRegistry) -> None:
    # The feed says aws (region ap-south-1, located in IN); control is still the US entity.
    operator = registry.operator_for("aws", 16509)
    assert operator == Operator(
        provider="aws",
        entity="Amazon Web Services, Inc.",
        jurisdiction="US",
        parent="Amazon.com, Inc.",
        basis="provider-feed aws",
    )


def test_provider_id_from_a_feed_wins_over_the_asn(registry: ProviderRegistry) -> None:
    # GitHub address announced from a Microsoft ASN: the feed's "github" decides.
    operator = registry.operator_for("github", 8075)
    assert operator.provider == "github"
    assert operator.parent == "Microsoft Corporation"
    assert operator.basis.startswith("provider-feed")


def test_provider_basis_can_name_a_hostname_hint(registry: ProviderRegistry) -> None:
    operator = registry.operator_for("azure", None, provider_basis="hostname-hint")
    assert operator.basis == "hostname-hint azure"


def test_unverified_asn_is_flagged_in_the_basis(registry: ProviderRegistry) -> None:
    operator = registry.operator_for(None, 38895)
    assert operator.provider == "aws"
    assert "unverified" in operator.basis
    assert not registry.asn_is_verified(38895)
    assert registry.asn_is_verified(16509)


def test_registrant_name_identifies_a_non_operator(registry: ProviderRegistry) -> None:
    operator = registry.operator_for(None, None, org="Xiaomi Inc.")
    assert operator.provider == "xiaomi"
    assert operator.jurisdiction == "CN"
    assert "Xiaomi Inc." in operator.basis


def test_longest_org_pattern_wins(registry: ProviderRegistry) -> None:
    cloud = registry.by_org("GOOGLE CLOUD SINGAPORE PTE. LTD.")
    plain = registry.by_org("Google LLC")
    assert cloud is not None and cloud.id == "gcp"
    assert plain is not None and plain.id == "google"


def test_org_patterns_match_whole_words_only(registry: ProviderRegistry) -> None:
    ovh = registry.by_org("OVH SAS")
    aws = registry.by_org("AMAZON-02")
    assert ovh is not None and ovh.id == "ovh"
    assert aws is not None and aws.id == "aws"
    assert registry.by_org("MOVHOST LTD") is None
    assert registry.by_org("Appletree Hosting") is None


def test_unknown_is_explicit_with_a_reason(registry: ProviderRegistry) -> None:
    operator = registry.operator_for(None, 64512)
    assert operator.provider is None and operator.jurisdiction is None
    assert operator.basis == "unknown: no provider id; AS64512 not in providers.toml"
    nothing = registry.operator_for(None, None)
    assert nothing.basis == "unknown: no provider id"


def test_unlisted_provider_id_falls_back_to_the_asn(registry: ProviderRegistry) -> None:
    operator = registry.operator_for("newcloud", 16509)
    assert operator.provider == "aws"
    assert "newcloud is not in providers.toml" in operator.basis
    alone = registry.operator_for("newcloud", None)
    assert alone.provider == "newcloud" and alone.jurisdiction is None


def test_control_under_two_jurisdictions_is_kept(registry: ProviderRegistry) -> None:
    byteplus = registry.operator_for("byteplus", None)
    assert (byteplus.jurisdiction, byteplus.other_jurisdictions) == ("CN", ("SG",))
    imperva = registry.operator_for(None, 19551)
    assert (imperva.jurisdiction, imperva.other_jurisdictions) == ("US", ("FR",))
    assert registry.operator_for("aws", None).other_jurisdictions == ()


def test_cdn_and_anycast_flags(registry: ProviderRegistry) -> None:
    cloudflare = registry.get("cloudflare")
    aws = registry.get("aws")
    assert cloudflare is not None and cloudflare.cdn and cloudflare.anycast
    assert aws is not None and not aws.cdn and not aws.anycast


GOOD = """
schema = 1
[providers.acme]
name = "Acme"
entity = "Acme Ltd"
jurisdiction = "GB"
kind = "cloud"
asns = [64500]
source = "https://example.org/acme"
"""


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ('jurisdiction = "GB"', 'jurisdiction = "GBR"', "'jurisdiction' must be an ISO 3166-1"),
        ('kind = "cloud"', 'kind = "castle"', "'kind' must be one of"),
        ("asns = [64500]", 'asns = ["AS64500"]', "holds 'AS64500', not an AS number"),
        ("asns = [64500]", "asns = [64500, 64500]", "lists an AS number twice"),
        ('source = "https://example.org/acme"', "", "missing required field 'source'"),
        ('name = "Acme"', 'name = "Acme"\nheadquarter = "x"', "unknown field 'headquarter'"),
        ('source = "https://example.org/acme"', 'source = "a friend"', "'source' must be a URL"),
        ("[providers.acme]", "[providers.Acme]", "id must be lower case"),
        (
            'kind = "cloud"',
            'kind = "cloud"\nother_jurisdictions = ["usa"]',
            "'other_jurisdictions' must be a list of ISO 3166-1 alpha-2 codes",
        ),
    ],
)
def test_malformed_entries_fail_in_one_line_naming_the_entry(
    replace: str, by: str, message: str
) -> None:
    with pytest.raises(ProvidersFileInvalid) as caught:
        ProviderRegistry.from_toml(GOOD.replace(replace, by), origin="p.toml")
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("p.toml:3: [providers.")
    assert message in text


def test_duplicate_asn_across_providers_is_rejected() -> None:
    text = GOOD + GOOD.replace("schema = 1", "").replace("acme", "other")
    with pytest.raises(ProvidersFileInvalid, match="AS64500 is listed under both 'acme' and"):
        ProviderRegistry.from_toml(text, origin="p.toml")


def test_broken_toml_names_the_file_and_line() -> None:
    with pytest.raises(ProvidersFileInvalid, match=r"^p\.toml: not valid TOML: .*line 3"):
        ProviderRegistry.from_toml('schema = 1\n[providers.x]\nname = "unterminated\n', "p.toml")


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ProvidersFileInvalid, match="cannot read"):
        ProviderRegistry.load(tmp_path / "absent.toml")


def test_empty_file_is_rejected() -> None:
    with pytest.raises(ProvidersFileInvalid, match="no \\[providers"):
        ProviderRegistry.from_toml("schema = 1\n", "p.toml")


# ------------------------------------------------ the parse cached beside the index


def _no_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str, origin: str) -> object:
        raise AssertionError("parsed the TOML although the cache was good")

    monkeypatch.setattr(providers, "_toml", refuse)


def test_cache_is_written_then_used_instead_of_the_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "providers.toml"
    file.write_text(GOOD)
    first = ProviderRegistry.load(file, cache_dir=tmp_path)
    assert (tmp_path / providers.CACHE_NAME).is_file()
    _no_toml(monkeypatch)
    again = ProviderRegistry.load(file, cache_dir=tmp_path)
    assert again.ids == first.ids == ("acme",)
    assert again.operator_for(None, 64500) == first.operator_for(None, 64500)


def test_shipped_table_gives_the_same_registry_through_the_cache(tmp_path: Path) -> None:
    plain = ProviderRegistry.load()
    ProviderRegistry.load(cache_dir=tmp_path)  # writes it
    cached = ProviderRegistry.load(cache_dir=tmp_path)
    assert list(cached) == list(plain)  # every Provider equal, in the same order


def test_edited_toml_is_parsed_again_not_served_stale(tmp_path: Path) -> None:
    file = tmp_path / "providers.toml"
    file.write_text(GOOD)
    ProviderRegistry.load(file, cache_dir=tmp_path)
    file.write_text(GOOD.replace('jurisdiction = "GB"', 'jurisdiction = "IE"'))
    registry = ProviderRegistry.load(file, cache_dir=tmp_path)
    assert registry.operator_for("acme", None).jurisdiction == "IE"


def test_edited_toml_that_is_invalid_fails_although_a_cache_exists(tmp_path: Path) -> None:
    file = tmp_path / "providers.toml"
    file.write_text(GOOD)
    ProviderRegistry.load(file, cache_dir=tmp_path)
    file.write_text(GOOD.replace('kind = "cloud"', 'kind = "castle"'))
    with pytest.raises(ProvidersFileInvalid, match="'kind' must be one of"):
        ProviderRegistry.load(file, cache_dir=tmp_path)


def test_damaged_cache_is_reparsed_never_believed(tmp_path: Path) -> None:
    file = tmp_path / "providers.toml"
    file.write_text(GOOD)
    ProviderRegistry.load(file, cache_dir=tmp_path)
    cache = tmp_path / providers.CACHE_NAME
    cache.write_bytes(cache.read_bytes().replace(b'"GB"', b'"CN"'))  # still valid JSON
    registry = ProviderRegistry.load(file, cache_dir=tmp_path)
    assert registry.operator_for("acme", None).jurisdiction == "GB"


def test_unwritable_cache_folder_still_loads(tmp_path: Path) -> None:
    file = tmp_path / "providers.toml"
    file.write_text(GOOD)
    registry = ProviderRegistry.load(file, cache_dir=tmp_path / "absent")
    assert registry.ids == ("acme",)
    assert not (tmp_path / "absent").exists()
