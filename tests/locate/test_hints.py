"""Hostname hints from data/hostname_patterns.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.locate.hints import HintTable, HintTableInvalid, default_table, hostname_hints
from residency.model import EvidenceKind


@pytest.mark.parametrize(
    ("name", "provider", "region", "service", "cdn", "country"),
    [
        ("my-lb-1234.ap-south-1.elb.amazonaws.com", "aws", "ap-south-1", "ELB", False, "IN"),
        ("internal-x.us-gov-west-1.elb.amazonaws.com", "aws", "us-gov-west-1", "ELB", False, "US"),
        ("s3.eu-west-1.amazonaws.com", "aws", "eu-west-1", "S3", False, "IE"),
        ("bucket.s3-ap-southeast-1.amazonaws.com", "aws", "ap-southeast-1", "S3", False, "SG"),
        ("bucket.s3.amazonaws.com", "aws", "us-east-1", "S3", False, "US"),
        (
            "ec2-13-228-1-2.ap-southeast-1.compute.amazonaws.com",
            "aws",
            "ap-southeast-1",
            "EC2",
            False,
            "SG",
        ),
        ("ec2-3-4-5-6.compute-1.amazonaws.com", "aws", "us-east-1", "EC2", False, "US"),
        (
            "abc.execute-api.eu-central-1.amazonaws.com",
            "aws",
            "eu-central-1",
            "execute-api",
            False,
            "DE",
        ),
        ("d111111abcdef8.cloudfront.net", "aws", None, "CLOUDFRONT", True, None),
        ("e1234.a.akamaiedge.net", "akamai", None, None, True, None),
        ("www.shop.example.edgekey.net", "akamai", None, None, True, None),
        ("a1.g.akamai.net", "akamai", None, None, True, None),
        ("cdn.azureedge.net", "azure", None, "AzureCDN", True, None),
        ("app-x.z01.azurefd.net", "azure", None, "AzureFrontDoor.Frontend", True, None),
        ("prod.global.ssl.fastly.net", "fastly", None, None, True, None),
        ("x.fastlylb.net", "fastly", None, None, True, None),
        ("www.shop.example.cdn.cloudflare.net", "cloudflare", None, None, True, None),
        ("acct.blob.core.windows.net", "azure", None, "Storage", False, None),
        ("app.azurewebsites.net", "azure", None, "AppService", False, None),
        (
            "waws-prod-am2-123.sip.azurewebsites.windows.net",
            "azure",
            "westeurope",
            "AppService",
            False,
            "NL",
        ),
        ("vm1.westeurope.cloudapp.azure.com", "azure", "westeurope", "AzureCloud", False, "NL"),
        ("project.appspot.com", "gcp", None, "AppEngine", False, None),
        ("svc-abc-uc.a.run.app", "gcp", None, "CloudRun", False, None),
        ("1.2.3.4.bc.googleusercontent.com", "gcp", None, "ComputeEngine", False, None),
        (
            "asia-south1-proj.cloudfunctions.net",
            "gcp",
            "asia-south1",
            "CloudFunctions",
            False,
            "IN",
        ),
        ("objectstorage.ap-mumbai-1.oraclecloud.com", "oracle", "ap-mumbai-1", None, False, "IN"),
        ("oss-ap-south-1.aliyuncs.com", "alibaba", "ap-south-1", "OSS", False, "IN"),
        ("bucket.oss-cn-hangzhou.aliyuncs.com", "alibaba", "cn-hangzhou", "OSS", False, "CN"),
        ("ecs.ap-southeast-1.aliyuncs.com", "alibaba", "ap-southeast-1", "ecs", False, "SG"),
        ("fra1.digitaloceanspaces.com", "digitalocean", "fra1", "Spaces", False, "DE"),
        ("octo.github.io", "github", None, "Pages", True, None),
    ],
)
def test_patterns(
    name: str,
    provider: str,
    region: str | None,
    service: str | None,
    cdn: bool,
    country: str | None,
) -> None:
    (hint,) = hostname_hints([name])
    assert (hint.provider, hint.region, hint.service, hint.anycast) == (
        provider,
        region,
        service,
        cdn,
    )
    assert (hint.place.country if hint.place else None) == country
    assert hint.kind is EvidenceKind.HOSTNAME
    assert hint.source == "hostname-patterns"
    assert hint.version == default_table().version
    assert hint.note.startswith(name)


@pytest.mark.parametrize(
    "name",
    [
        "www.example.com",
        "amazonaws.com.evil.example",  # suffix must be label-aligned at the end
        "notcloudfront.net",
        "elb.amazonaws.com.example.org",
        "x.mirror.residency.test",
    ],
)
def test_names_that_reveal_nothing(name: str) -> None:
    assert hostname_hints([name]) == ()


def test_sandbox_suffix_is_matched_as_the_mirrored_name() -> None:
    (hint,) = hostname_hints(["lb-7.ap-southeast-1.elb.amazonaws.com.mirror.residency.test."])
    assert (hint.provider, hint.region) == ("aws", "ap-southeast-1")
    assert hint.note.startswith("lb-7.ap-southeast-1.elb.amazonaws.com.mirror.residency.test")


def test_duplicates_are_dropped_and_order_kept() -> None:
    hints = hostname_hints(
        ["d1.cloudfront.net", "x.fastly.net", "d1.cloudfront.net", "D1.Cloudfront.NET."]
    )
    assert [h.provider for h in hints] == ["aws", "fastly"]


def test_every_fixed_region_is_in_the_region_tables() -> None:
    table = default_table()
    places = HintTable.load().match("bucket.s3.amazonaws.com")
    assert places is not None and places.place is not None
    for pattern in table.patterns:
        if pattern.region:
            evidence = table.match(f"x.{pattern.suffix}")
            assert evidence is not None and evidence.place is not None, pattern.suffix
        for region in pattern.region_map.values():
            assert table._places is not None and table._places.knows(pattern.provider, region), (
                region
            )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "patterns.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[patterns]]\nsuffix = "a.b"\nprovider = "aws"\n', "missing 'version'"),
        ('version = "1"\n', "no \\[\\[patterns\\]\\]"),
        (
            'version = "1"\n[[patterns]]\nsuffix = "a.b"\n',
            "entry 1 \\(a.b\\): 'provider' is required",
        ),
        ('version = "1"\n[[patterns]]\nprovider = "aws"\n', "entry 1: 'suffix' is required"),
        ('version = "1"\n[[patterns]]\nsuffix = "a.b"\nprovider = "x"\nregex = "("\n', "bad regex"),
        (
            'version = "1"\n[[patterns]]\nsuffix = "a.b"\nprovider = "x"\ncolour = 1\n',
            "unknown field",
        ),
        ("version = ", "invalid TOML"),
    ],
)
def test_bad_tables_name_file_and_entry(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(HintTableInvalid, match=problem) as info:
        HintTable.load(path, with_places=False)
    assert str(path) in str(info.value)


def test_custom_table_without_region_tables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'version = "t1"\n[[patterns]]\nsuffix = "cdn.example"\nprovider = "fastly"\ncdn = true\n',
    )
    table = HintTable.load(path, with_places=False)
    (hint,) = hostname_hints(["a.b.cdn.example"], table)
    assert (hint.provider, hint.anycast, hint.version, hint.place) == ("fastly", True, "t1", None)
