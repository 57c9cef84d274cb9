"""``residency data import``: real snapshots from ../shared/data, detection, refusals, CLI."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from residency.cli import cli
from residency.datasets.importer import ImportStatus, import_files, sniff
from residency.datasets.manifest import load_manifest
from residency.datasets.sources import SOURCES
from residency.errors import UsageError
from tests.datasets.mmdb_build import write_mmdb
from tests.datasets.update_helpers import cloudip_bytes
from tests.support import shared

FEEDS = ("feeds",)


def test_real_snapshots_are_recognised_by_name_and_imported(tmp_path: Path) -> None:
    files = [
        shared(*FEEDS, "aws", "aws-ip-ranges_2026-08-22.json"),
        shared(*FEEDS, "azure", "azure-ServiceTags_Public_2026-05-06.json"),
        shared(*FEEDS, "cloudflare", "cloudflare-ips-v4_2026-05-06.txt"),
        shared(*FEEDS, "cloudflare", "cloudflare-ips-v6_2026-05-06.txt"),
        shared(*FEEDS, "linode", "linode-geofeed_2025-07-24.csv"),
        shared(*FEEDS, "vultr", "vultr-geofeed-constant-json_2024-04-18.json"),
    ]
    report = import_files(files, directory=tmp_path)
    assert report.ok, [o.line() for o in report.outcomes]
    datasets = [o.dataset for o in report.outcomes]
    assert datasets == [
        "aws-ip-ranges",
        "azure-service-tags",
        "cloudflare-ips",
        "cloudflare-ips",
        "linode-geofeed",
        "vultr-geofeed",
    ]
    manifest = load_manifest(tmp_path)
    aws = manifest.entries["aws-ip-ranges"]
    assert aws.version.startswith("2026-08-22-15-17-05") and aws.published == "2026-08-22"
    assert aws.via == "import" and aws.origin == str(files[0].resolve())
    assert aws.records is not None and aws.records > 5000
    assert manifest.entries["azure-service-tags"].version == "changeNumber 398"
    cloudflare = manifest.entries["cloudflare-ips"]
    assert [f.name for f in cloudflare.files] == ["ips-v4.txt", "ips-v6.txt"]
    assert (tmp_path / "raw/cloudflare-ips/ips-v6.txt").read_bytes() == files[3].read_bytes()


def test_content_detection_without_a_telling_name(tmp_path: Path) -> None:
    for name, target in [
        ("aws-ip-ranges_2026-08-22.json", "aws-ip-ranges"),
        ("gcp-cloud_2026-08-22.json", "gcp-cloud"),
        ("goog_2026-08-22.json", "google-goog"),
        ("oracle-public_ip_ranges_2025-07-21.json", "oracle-ip-ranges"),
        ("fastly-public-ip-list_2024-10-08.json", "fastly-ip-list"),
        ("github-meta_2025-07-25.json", "github-meta"),
    ]:
        folder = {"aws-ip": "aws", "gcp-clo": "gcp", "goog_20": "gcp", "oracle-": "oracle"}
        sub = folder.get(name[:7], name.split("-")[0])
        original = shared(*FEEDS, sub, name)
        anonymous = tmp_path / "download.bin"
        anonymous.write_bytes(original.read_bytes())
        assert sniff(anonymous, SOURCES) == target, name


def test_unknown_format_is_one_line_and_others_still_import(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello, this is not a feed\n")
    good = shared(*FEEDS, "cloudflare", "cloudflare-ips-v4_2026-05-06.txt")
    report = import_files([junk, good], directory=tmp_path / "data")
    bad, ok = report.outcomes
    assert bad.status is ImportStatus.UNKNOWN_FORMAT and "\n" not in bad.line()
    assert bad.line().startswith(str(junk)) and "unknown format" in bad.line()
    assert ok.status is ImportStatus.IMPORTED and ok.dataset == "cloudflare-ips"


def test_truncated_feed_is_refused_and_previous_data_stays(tmp_path: Path) -> None:
    good = shared(*FEEDS, "aws", "aws-ip-ranges_2026-08-22.json")
    import_files([good], directory=tmp_path)
    truncated = tmp_path / "ip-ranges.json"
    truncated.write_bytes(good.read_bytes()[:5000])
    report = import_files([truncated], directory=tmp_path)
    (outcome,) = report.outcomes
    assert outcome.status is ImportStatus.FAILED
    assert outcome.detail.startswith("aws-ip-ranges: ") and "previous data stays" in outcome.detail
    assert (tmp_path / "raw/aws-ip-ranges/ip-ranges.json").read_bytes() == good.read_bytes()


def test_older_snapshot_that_shrank_by_half_is_refused(tmp_path: Path) -> None:
    good = shared(*FEEDS, "aws", "aws-ip-ranges_2026-08-22.json")
    import_files([good], directory=tmp_path)
    doc = json.loads(good.read_bytes())
    doc["prefixes"] = doc["prefixes"][:100]
    doc["ipv6_prefixes"] = doc["ipv6_prefixes"][:100]
    small = tmp_path / "small-ip-ranges.json"
    small.write_text(json.dumps(doc))
    (outcome,) = import_files([small], directory=tmp_path).outcomes
    assert outcome.status is ImportStatus.FAILED and "shrunk by more than half" in outcome.detail
    (forced,) = import_files([small], directory=tmp_path, allow_shrink=True).outcomes
    assert forced.ok


def test_as_option_forces_the_dataset_and_rejects_unknown_ids(tmp_path: Path) -> None:
    db = write_mmdb(tmp_path / "whatever.db", {"country_code": "US"}, {"country_code": "SG"})
    (outcome,) = import_files([db], as_dataset="geo-whois-asn-country", directory=tmp_path).outcomes
    assert outcome.ok and outcome.dataset == "geo-whois-asn-country"
    entry = load_manifest(tmp_path).entries["geo-whois-asn-country"]
    assert entry.layout == "ip-location-db" and entry.kind == "mmdb-country"
    with pytest.raises(UsageError, match="unknown dataset 'nope'"):
        import_files([db], as_dataset="nope", directory=tmp_path)


def test_gzipped_dbip_download_and_cloudip_file(tmp_path: Path) -> None:
    db = write_mmdb(
        tmp_path / "x.mmdb", {"country": {"iso_code": "DE"}}, {"country": {"iso_code": "FR"}}
    )
    gz = tmp_path / "dbip-country-lite-2026-11.mmdb.gz"
    gz.write_bytes(gzip.compress(db.read_bytes()))
    raw = tmp_path / "snapshot.bin"
    raw.write_bytes(cloudip_bytes(3))
    report = import_files([gz, raw], directory=tmp_path / "d")
    assert report.ok, [o.line() for o in report.outcomes]
    assert [o.dataset for o in report.outcomes] == ["dbip-country", "cloudip"]
    stored = tmp_path / "d/raw/dbip-country/dbip-country.mmdb"
    assert stored.read_bytes() == db.read_bytes()


def test_mirror_package_copied_by_hand_is_imported(tmp_path: Path) -> None:
    csv_v4 = b'1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."\n1.0.4.0,1.0.7.255,38803,Gtelecom\n'
    csv_v6 = b"2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project\n"
    tgz = tmp_path / "ip-location-db-asn-2.3.2026061719.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        meta = json.dumps({"name": "@ip-location-db/asn", "version": "2.3.2026061719"}).encode()
        for name, data in [
            ("package/package.json", meta),
            ("package/asn-ipv4.csv", csv_v4),
            ("package/asn-ipv6.csv", csv_v6),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (outcome,) = import_files([tgz], directory=tmp_path / "d").outcomes
    assert outcome.ok, outcome.line()
    entry = load_manifest(tmp_path / "d").entries["ipdb-asn"]
    assert entry.version == "2.3.2026061719" and entry.published == "2026-06-17"
    assert entry.records == 3


def test_unknown_geofeed_gets_its_own_dataset(tmp_path: Path) -> None:
    feed = tmp_path / "corp-feed.csv"
    feed.write_text("# our own ranges\n192.0.2.0/24,DE,DE-BE,Berlin,\n198.51.100.0/24,FR,,Paris,\n")
    (outcome,) = import_files([feed], directory=tmp_path / "d").outcomes
    assert outcome.ok and outcome.dataset == "geofeed-corp-feed"
    assert load_manifest(tmp_path / "d").entries["geofeed-corp-feed"].kind == "geofeed"


def test_cli_import_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESIDENCY_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("RESIDENCY_CONFIG", str(tmp_path / "none.toml"))
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"\x00\x01garbage")
    good = shared(*FEEDS, "cloudflare", "cloudflare-ips-v4_2026-05-06.txt")
    result = CliRunner().invoke(cli, ["data", "import", str(junk), str(good)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"residency: {junk}: unknown format" in result.stderr
    assert "imported as cloudflare-ips" in result.stdout
    ok = CliRunner().invoke(cli, ["data", "import", str(good)])
    assert ok.exit_code == 0, ok.output
    unknown = CliRunner().invoke(cli, ["data", "import", "--as", "bogus", str(good)])
    assert unknown.exit_code == 2 and "unknown dataset 'bogus'" in unknown.stderr


def test_wrong_format_as_asn_csv_is_refused(tmp_path: Path) -> None:
    feed = tmp_path / "asn-ipv4.csv"
    feed.write_text("".join(f"192.0.{i}.0/24,DE,DE-BE,Berlin,\n" for i in range(50)))
    (outcome,) = import_files([feed], directory=tmp_path / "d").outcomes
    assert outcome.status is ImportStatus.FAILED
    assert outcome.detail.startswith("ipdb-asn: ") and "start_ip,end_ip,asn,org" in outcome.detail
    assert not (tmp_path / "d/raw/ipdb-asn/asn-ipv4.csv").exists()
