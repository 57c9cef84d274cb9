"""The entity tables as opt-in datasets: import, wrong shape keeps the previous data,
status shows the licence, update leaves them out unless enabled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from residency.control.entities import load_index
from residency.datasets.importer import import_files
from residency.datasets.manifest import Manifest
from residency.datasets.sources import load_sources
from residency.datasets.status import data_status
from residency.datasets.update import check_enable, opt_in_filter
from residency.errors import UsageError
from tests.support import shared


def test_import_real_snapshots_and_read_them_back(tmp_path: Path) -> None:
    files = [
        shared("entities", "webxray-domain_owners_2019-12-18.json"),
        shared("entities", "disconnect-entities_2026-08-07.json"),
        shared("entities", "disconnect-services_2026-08-07.json"),
    ]
    report = import_files(files, directory=tmp_path)
    assert report.ok, [o.line() for o in report.outcomes]
    notes: list[str] = []
    index = load_index(tmp_path, notes)
    assert not notes
    assert {t.label for t in index.tables} == {"webxray 2019-12-18", "disconnect 2026-08-07"}
    status = data_status(tmp_path)
    text = "\n".join(status.lines())
    assert "entities-webxray: GPL-3.0" in text
    assert "entities-ddg-web" in text and "off (opt-in)" in text


def test_wrong_shape_keeps_the_previous_data(tmp_path: Path) -> None:
    good = shared("entities", "webxray-domain_owners_2019-12-18.json")
    assert import_files([good], directory=tmp_path).ok
    bad = tmp_path / "broken-domain_owners.json"
    bad.write_text(json.dumps({"owners": "not a list"}))
    outcome = import_files([bad], directory=tmp_path).outcomes[0]
    assert not outcome.ok
    assert "wrong shape" in outcome.detail and "previous data stays in place" in outcome.detail
    assert "\n" not in outcome.detail
    assert load_index(tmp_path).tables[0].version == "2019-12-18"


def test_opt_in_sources_stay_out_of_a_plain_update() -> None:
    sources = load_sources()
    everything = tuple(sources.values())
    plain = opt_in_filter(everything, None, (), Manifest())
    assert not any(s.opt_in for s in plain)
    enabled = opt_in_filter(everything, None, ("entities",), Manifest())
    assert {s.id for s in enabled if s.opt_in} == {
        "entities-webxray",
        "entities-disconnect",
        "entities-ddg-web",
        "entities-ddg-android",
    }
    with pytest.raises(UsageError, match="not an opt-in dataset"):
        check_enable(sources, ("everything",))
