"""Policy validates regions against the datasets layer's one region-table parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.datasets.errors import RegionTableInvalid
from residency.paths import PROJECT_DATA_ENV
from residency.policy.regions import default_region_catalog

HEADER = "region,country,subdivision,city,name,source\n"


def _tables(root: Path, aws: str) -> None:
    (root / "regions").mkdir(parents=True)
    (root / "regions" / "aws.csv").write_text(HEADER + aws, encoding="utf-8")


def test_catalog_reads_the_region_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _tables(tmp_path, "eu-west-1,IE,,Dublin,Europe (Ireland),test\n")
    monkeypatch.setenv(PROJECT_DATA_ENV, str(tmp_path))
    catalog = default_region_catalog()
    assert catalog.knows_provider("aws")
    assert catalog.knows_region("aws", "EU-West-1")  # ids match case-insensitively
    assert not catalog.knows_region("aws", "eu-west-9")
    assert catalog.regions_of("aws") == ("eu-west-1",)


def test_damaged_table_is_an_error_not_a_smaller_catalog(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _tables(tmp_path, "eu-west-1,UK,,London,bad,test\n")
    monkeypatch.setenv(PROJECT_DATA_ENV, str(tmp_path))
    with pytest.raises(RegionTableInvalid, match="use GB"):
        default_region_catalog()
