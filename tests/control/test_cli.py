"""`residency data entities` and `data update --enable` through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from residency.cli import cli
from residency.datasets.importer import import_files
from tests.support import shared


def test_data_entities_lists_tables_hosts_and_disagreements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [
        shared("entities", name)
        for name in (
            "disconnect-entities_2026-08-07.json",
            "disconnect-services_2026-08-07.json",
            "ddg-web-tds-v6_2025-06-17.json",
        )
    ]
    assert import_files(files, directory=tmp_path).ok
    monkeypatch.setenv("RESIDENCY_DATA_DIR", str(tmp_path))
    args = ["data", "entities", "--host", "inq.com", "--host", "d1.cloudfront.net"]
    result = CliRunner().invoke(cli, [*args, "--disagreements"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "entity tables: duckduckgo-web 2025-06-17; disconnect 2026-08-07"
    assert any(line.startswith("inq.com: TouchCommerce, Inc. (US) → Nuance") for line in lines)
    assert any(line.startswith("d1.cloudfront.net: controller unknown, because") for line in lines)
    assert any(line.startswith("inq.com: disconnect 2026-08-07 names Microsoft") for line in lines)
    assert any(line.startswith("bazaarvoice.com: duckduckgo-web") for line in lines)
    # merged once, kept for the next run
    assert list((tmp_path / "compiled").glob("control-*.msgpack"))


def test_enable_an_unknown_group_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESIDENCY_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["data", "update", "--enable", "everything", "--offline"])
    assert result.exit_code == 2
    assert "--enable 'everything': not an opt-in dataset group or id" in result.output
    assert "Traceback" not in result.output
