"""Hostile inputs to ``residency audit --format jsonl``: a bad input file is one clear
line, the rest of the batch is still streamed (the real CLI, in a subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.audit.test_stream_inputs import dataset  # noqa: F401  (the tiny dataset fixture)
from tests.hostile.runner import assert_clean_failure, run_cli


@pytest.mark.parametrize("option", ["--har", "--zone", "--pcap"])
def test_jsonl_with_a_missing_input_file_streams_the_rest(
    dataset: Path,  # noqa: F811
    tmp_path: Path,
    option: str,
) -> None:
    missing = tmp_path / "nope.bin"
    run = run_cli(
        "audit", "--no-resolve", "--format", "jsonl", option, str(missing), "192.0.2.1",
        data_dir=dataset,
    )  # fmt: skip
    assert_clean_failure(run, code=2, mentions=str(missing))
    assert len([line for line in run.error_lines() if str(missing) in line]) == 1
    *endpoints, summary = [json.loads(line) for line in run.stdout.splitlines()]
    assert [e["host"] for e in endpoints] == ["192.0.2.1"]
    assert summary["summary"]["problems"] == 1


def test_jsonl_with_a_garbage_har_streams_the_rest(
    dataset: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    har = tmp_path / "broken.har"
    har.write_bytes(b'{"log": {"entries": [\x00\xff')
    run = run_cli(
        "audit", "--no-resolve", "--format", "jsonl", "--har", str(har), "192.0.2.1",
        data_dir=dataset,
    )  # fmt: skip
    assert_clean_failure(run, code=2, mentions=str(har))
    *endpoints, _summary = [json.loads(line) for line in run.stdout.splitlines()]
    assert [e["host"] for e in endpoints] == ["192.0.2.1"]
