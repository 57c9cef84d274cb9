"""Loading policies: the shipped examples load; every broken policy gets FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.paths import project_data_dir
from residency.policy import PolicyInvalid, PolicyUnreadable, load_policy
from residency.policy.model import Handling
from residency.policy.positions import Positions
from residency.policy.regions import CsvRegionCatalog, SetRegionCatalog
from tests.policy.factories import JURISDICTIONS, REGIONS, policy
from tests.support import SHARED_DATA


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyInvalid) as caught:
        policy(text, "p.toml")
    return [str(p) for p in caught.value.problems]


def example_regions() -> CsvRegionCatalog | SetRegionCatalog:
    """The project's region tables, or the shared reference table when they are absent."""
    own = CsvRegionCatalog(project_data_dir() / "regions")
    if own.regions:
        return own
    combined = SHARED_DATA / "regions"
    if not (combined / "COMBINED_region_country.csv").exists():
        pytest.skip("no region table to validate the example policies against")
    import csv

    with (combined / "COMBINED_region_country.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    table: dict[str, set[str]] = {}
    for row in rows:
        table.setdefault(row["provider"], set()).add(row["region"])
    from residency.policy.regions import known_providers

    return SetRegionCatalog(table, known_providers())


@pytest.mark.parametrize(
    "name", ["india-payments", "eu-only-gdpr", "strict-single-country", "eu-sovereign"]
)
def test_shipped_example_policies_load(name: str) -> None:
    path = project_data_dir() / "policies" / f"{name}.toml"
    loaded = load_policy(path, jurisdictions=JURISDICTIONS, regions=example_regions())
    assert loaded.name == name
    assert loaded.ref.sha256 and len(loaded.ref.sha256) == 64
    assert loaded.ref.path == str(path)


def test_example_details() -> None:
    regions = example_regions()
    india = load_policy(
        project_data_dir() / "policies" / "india-payments.toml",
        jurisdictions=JURISDICTIONS,
        regions=regions,
    )
    rule = next(r for r in india.rules if r.name == "card-vault")
    assert [str(s) for s in rule.scope.providers.allow or ()][:2] == [
        "aws:ap-south-1",
        "aws:ap-south-2",
    ]
    strict = load_policy(
        project_data_dir() / "policies" / "strict-single-country.toml",
        jurisdictions=JURISDICTIONS,
        regions=regions,
    )
    assert strict.base.handling("anycast") is Handling.FAIL
    assert strict.base.countries is not None and strict.base.countries.allow == {"DE"}


def test_bad_toml_names_the_line() -> None:
    found = problems('name = "x"\nversion = "1"\n[countries]\nallow = ["IN",\n')
    assert len(found) == 1
    assert found[0].startswith("p.toml:4: bad TOML: Invalid value at the end of the file")
    found = problems('name = "x"\nversion = 1.0.0\n')
    assert found[0].startswith("p.toml:2: bad TOML")


def test_unknown_key_is_an_error_with_suggestion() -> None:
    found = problems('name = "x"\nversion = "1"\n\n[countries]\nalow = ["IN"]\n')
    assert found == [
        "p.toml:5: unknown key 'alow' in [countries] (did you mean 'allow'?); "
        "known keys: allow, deny"
    ]
    found = problems('name = "x"\nversion = "1"\ncnd = "allow"\n')
    assert found[0].startswith("p.toml:3: unknown key 'cnd'") and "'cdn'" in found[0]
    found = problems('name = "x"\n[[rules]]\nname = "r"\nhosts = ["a.*"]\ncountry = "IN"\n')
    assert found[0].startswith("p.toml:5: unknown key 'country' in [rules[0]]")


def test_uk_and_el_are_errors_suggesting_gb_and_gr() -> None:
    text = 'name = "x"\nversion = "1"\n[countries]\nallow = [\n  "DE",\n  "UK",\n  "EL",\n]\n'
    found = problems(text)
    assert found == [
        "p.toml:6: unknown country code 'UK': not ISO 3166-1 alpha-2; use 'GB' (United Kingdom)",
        "p.toml:7: unknown country code 'EL': not ISO 3166-1 alpha-2; use 'GR' (Greece)",
    ]
    found = problems('name = "x"\n[operator_jurisdictions]\ndeny = ["us", "ZZ", "@EUU"]\n')
    assert found[0] == "p.toml:3: country code 'us' must be upper case: 'US'"
    assert "unknown country code 'ZZ'" in found[1]
    assert "unknown jurisdiction group '@EUU'" in found[2]


def test_bad_dates_and_waiver_fields() -> None:
    text = """name = "x"
[[waivers]]
host = "a.example"
justification = "j"
owner = "o"
expires = "31/12/2026"
"""
    found = problems(text)
    assert found == [
        "p.toml:6: expires must be a TOML date such as 2026-12-31 (unquoted), not '31/12/2026'"
    ]
    found = problems(text.replace('"31/12/2026"', "2026-13-01"))
    assert found[0].startswith("p.toml:6: bad TOML")
    found = problems('name = "x"\n[[waivers]]\naddress = "300.1.1.1"\nexpires = 2026-01-01\n')
    assert "p.toml:3: '300.1.1.1' is not an IP address or CIDR" in found
    assert "p.toml:2: missing required key 'justification' in [waivers[0]]" in found
    assert "p.toml:2: missing required key 'owner' in [waivers[0]]" in found


def test_unknown_provider_and_region() -> None:
    text = 'name = "x"\n[providers]\nallow = [\n  "aws:ap-south-1",\n  "awz:eu-west-1",\n'
    text += '  "aws:ap-south-9",\n  "azure:*",\n]\n'
    found = problems(text)
    assert found == [
        "p.toml:5: unknown provider 'awz' in 'awz:eu-west-1' (did you mean 'aws'?)",
        "p.toml:6: unknown aws region 'ap-south-9' in 'aws:ap-south-9' "
        "(did you mean 'aws:ap-south-2'?)",
    ]


def test_structural_mistakes() -> None:
    found = problems('name = "x"\ncountries = ["IN"]\n')
    assert found == ["p.toml:2: countries must be a table, e.g. [countries] allow = [...]"]
    found = problems('name = "x"\ncdn = "maybe"\n')
    assert found == ["p.toml:2: cdn must be one of allow, warn, fail, indeterminate, edge"]
    found = problems('name = "x"\n[countries]\nallow = []\n')
    assert "allow no country" in found[0] and found[0].startswith("p.toml:3:")
    found = problems('name = "x"\n[[rules]]\nname = "r"\n')
    assert "p.toml:2: rule 'r' needs hosts or categories to say what it covers" in found
    found = problems('version = "1"\n')
    assert found == ["p.toml: missing required key 'name' in the policy header"]
    found = problems('name = "x"\n[[rules]]\nhosts = ["https://pay.example/x"]\ncdn = "fail"\n')
    assert "is a URL" in found[0] and found[0].startswith("p.toml:3:")


def test_every_problem_is_reported_and_str_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\nfoo = 1\n[countries]\nallow = ["UK"]\n', encoding="utf-8")
    with pytest.raises(PolicyInvalid) as caught:
        load_policy(path, jurisdictions=JURISDICTIONS, regions=REGIONS)
    assert len(caught.value.problems) == 2
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:2: unknown key 'foo'") and message.endswith(
        "(and 1 more problem)"
    )


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyUnreadable, match="cannot read policy"):
        load_policy(tmp_path / "missing.toml", jurisdictions=JURISDICTIONS, regions=REGIONS)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b'name = "\xff"\n')
    with pytest.raises(PolicyUnreadable, match="not UTF-8"):
        load_policy(binary, jurisdictions=JURISDICTIONS, regions=REGIONS)


def test_positions_follow_arrays_of_tables_and_dotted_keys() -> None:
    text = (
        'name = "x"\n[[rules]]\nname = "a"\ncountries.deny = ["EL"]\n'
        '[[rules]]\nname = "b"\n[rules.countries]\nallow = [\n "IN",\n "UK"]\n'
    )
    positions = Positions(text)
    assert positions.line_of(("rules", 0, "countries", "deny")) == 4
    assert positions.line_of(("rules", 1, "countries", "allow")) == 8
    assert positions.line_of_value(("rules", 1, "countries", "allow"), "UK") == 10
    assert positions.line_of(("rules", 1, "nothing", "here")) == 5


def test_misplaced_top_level_key_gets_a_hint() -> None:
    found = problems('name = "x"\n[countries]\nallow = ["DE"]\ncdn = "fail"\n')
    assert found == [
        "p.toml:4: unknown key 'cdn' in [countries] (policy-wide keys go above the first "
        "[table] header); known keys: allow, deny"
    ]
    text = (
        'name = "x"\n[[rules]]\nhosts = ["a.*"]\n[rules.countries]\nallow = ["DE"]\ncdn = "fail"\n'
    )
    found = problems(text)
    assert found[0].startswith("p.toml:6: unknown key 'cdn' in [rules[0].countries] (rule keys go")


_WAIVER = """\
name = "p"
version = "1"
[[waivers]]
{line}
justification = "j"
owner = "o"
expires = {expires}
"""


def _problems(text: str) -> list[str]:
    from residency.policy import PolicyInvalid, parse_policy

    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(text, "p.toml")
    return [str(p) for p in caught.value.problems]


def test_waiver_address_with_host_bits_is_rejected_with_the_network_meant() -> None:
    found = _problems(_WAIVER.format(line='address = "10.0.0.1/8"', expires="2027-01-01"))
    assert found == ["p.toml:4: host bits set; did you mean 10.0.0.0/8?"]


def test_waiver_expires_must_be_a_date_not_a_datetime() -> None:
    found = _problems(_WAIVER.format(line='host = "a.example"', expires="2027-01-01T10:00:00Z"))
    assert len(found) == 1 and found[0].startswith("p.toml:7: expires must be a date")


def test_duplicate_category_names_are_rejected() -> None:
    text = 'name = "p"\nversion = "1"\n'
    text += '[[categories]]\nname = "pay"\nhosts = ["a.example"]\n' * 2
    found = _problems(text)
    assert found == ["p.toml:7: duplicate category 'pay' (first defined on line 3)"]


def test_deep_nesting_is_a_problem_not_a_recursion_error() -> None:
    found = _problems('name = "p"\nx = ' + "[" * 5000 + "]" * 5000 + "\n")
    assert found == ["p.toml: nesting too deep"]


def test_identical_problems_are_grouped_and_bounded() -> None:
    text = 'name = "p"\nversion = "1"\n'
    text += '[[waivers]]\nhost = "a.example"\njustification = "j"\nowner = "o"\n' * 20_000
    found = _problems(text)
    assert len(found) == 1
    assert found[0].startswith("p.toml:3: missing required key 'expires'")
    assert "(and 19,999 more like it, lines 7, 11, 15, 19, 23, ...)" in found[0]
    assert len(found[0]) < 300
