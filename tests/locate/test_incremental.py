"""Incremental compiles: one changed source re-reads one layer, and answers as a full compile."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from residency.locate.index.build import U64_MAX, combine_layers, compile_index, unique_rows
from residency.locate.index.incremental import _distinct_keys, _splice_layers, update_index
from residency.locate.index.specs import SourceSpec, build_layer, layer_plans
from residency.locate.index.stamp import compile_stamp, merge_inputs_key
from residency.locate.locator import Locator
from residency.model import DataVersion
from residency.paths import project_data_dir
from tests.locate.fixtures import small_dataset
from tests.support import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")

GEOFEED = (
    "5.5.5.0/24,NZ,NZ-AUK,Auckland,\n2a0c:9a40::/32,DE,DE-BE,Berlin,\n"
    "2a0c:9a40:1::5/128,FR,,Paris,\n2a05:d018::7/128,FR,,Paris,\n"
)
# a 2-line geofeed over space the small dataset's GeoIP databases place elsewhere
OVERRIDE = "13.228.0.0/24,AU,AU-NSW,Sydney,\n52.66.0.0/24,JP,,Tokyo,\n"


def geofeed_spec(path: Path, text: str) -> SourceSpec:
    path.write_text(text)
    return SourceSpec(
        dataset="geofeed-test",
        kind="geofeed",
        version="",
        files=(path,),
        parser="geofeed",
        data_version=DataVersion(dataset="geofeed-test", version=path.name),
    )


def load(directory: Path, specs: list[SourceSpec], lines: list[str]) -> Locator:
    return Locator.load(
        directory, sources=specs, compiled_dir=directory / "compiled", notify=lines.append
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SourceSpec]]:
    tmp = tmp_path_factory.mktemp("incremental")
    specs = small_dataset(tmp)
    load(tmp, specs, [])  # the full compile every test starts from
    return tmp, specs


def copy_of(base: tuple[Path, list[SourceSpec]], tmp_path: Path) -> Path:
    shutil.copytree(base[0] / "compiled", tmp_path / "compiled")
    return tmp_path


def sample_ips(locator: Locator, count: int = 400) -> list[str]:
    """Addresses inside the claims of every layer, plus the edges of the geofeed rows."""
    rng = random.Random(21)
    ips = [
        "13.228.0.1",
        "13.228.1.1",
        "52.66.0.9",
        "5.5.5.7",
        "2a0c:9a40::1",
        "2a0c:9a40:1::5",
        "2a05:d018::7",
        "2a05:d018::8",
        "1.1.1.1",
    ]
    for layer in range(len(locator.index.layers)):
        claims = [c for c in locator.index.claims(layer) if c.get("p")]
        for claim in rng.sample(claims, min(len(claims), count // 10)):
            import ipaddress

            net = ipaddress.ip_network(claim["p"], strict=False)
            ips.append(str(net.network_address + rng.randrange(net.num_addresses)))
    return ips


def answers(locator: Locator, ips: list[str]) -> list[tuple[object, ...]]:
    out = []
    for facts in locator.locate_many(ips):
        out.append(
            (facts.location, facts.provider, facts.region, facts.asn, facts.anycast, facts.cdn)
        )
    return out


def test_import_rebuilds_one_layer_and_answers_as_a_full_compile(
    base: tuple[Path, list[SourceSpec]], tmp_path: Path
) -> None:
    directory = copy_of(base, tmp_path)
    specs = [*base[1], geofeed_spec(tmp_path / "feed.csv", OVERRIDE + GEOFEED)]
    lines: list[str] = []
    incremental = load(directory, specs, lines)
    assert len(lines) == 1 and lines[0].startswith(
        "compiled index out of date; rebuilding incrementally"
    )
    assert "rebuilt geofeed-test;" in lines[0]
    assert f"kept {len(base[1]) + 2} layers" in lines[0]  # every source plus the two tables
    facts = incremental.locate("5.5.5.7")
    assert facts.location.country == "NZ" and facts.location.basis == "geofeed"
    assert incremental.locate("13.228.0.9").location.country in ("AU", "SG")
    full_dir = tmp_path / "full"
    full_dir.mkdir()
    full = load(full_dir, specs, [])
    ips = sample_ips(full)
    assert answers(incremental, ips) == answers(full, ips)
    # the bulk summary: rows carried over from the old index plus the merged new ones
    inc_rows = incremental.enrich(ips)
    full_rows = full.enrich(ips)
    for column in ("country", "provider", "region", "asn", "flags"):
        assert list(inc_rows.column(column)) == list(full_rows.column(column)), column
    assert not list((directory / "compiled").glob("previous-*"))  # dropped once merged


def test_update_index_reports_the_work_it_did(
    base: tuple[Path, list[SourceSpec]], tmp_path: Path
) -> None:
    directory = copy_of(base, tmp_path)
    specs = [*base[1], geofeed_spec(tmp_path / "feed.csv", GEOFEED)]
    stamp = compile_stamp(specs, project_data_dir() / "regions")
    report = update_index(specs, directory / "compiled", stamp, merge_inputs_key())
    assert report is not None
    assert report.rebuilt == ["geofeed-test"] and not report.damaged and not report.removed
    assert len(report.kept) == len(layer_plans(specs)) - 1
    assert 0 < report.new_combos < report.combos
    # and removing it again drops the layer without reading any other
    report = update_index(base[1], directory / "compiled", "s2", merge_inputs_key())
    assert report is not None and report.removed == ["geofeed-test"] and not report.rebuilt


def test_a_damaged_layer_is_read_again_alone(
    base: tuple[Path, list[SourceSpec]], tmp_path: Path
) -> None:
    directory = copy_of(base, tmp_path)
    specs = [*base[1], geofeed_spec(tmp_path / "feed.csv", GEOFEED)]
    load(directory, specs, [])
    locator = load(directory, specs, [])
    layer = next(
        i for i, info in enumerate(locator.index.layers) if info.layer_id == "aws-ip-ranges"
    )
    claims = directory / "compiled" / f"claims-{layer}.jsonl"
    claims.write_bytes(claims.read_bytes() + b'{"p":"0.0.0.0/0","cc":"KP"}\n')
    lines: list[str] = []
    again = load(directory, specs, lines)
    assert len(lines) == 1 and "damaged and read again: aws-ip-ranges" in lines[0]
    assert "rebuilding incrementally: nothing rebuilt" in lines[0]
    facts = again.locate("13.228.0.1")
    assert facts.provider == "aws" and facts.location.country == "SG"


def test_damaged_interval_tables_are_compiled_whole(
    base: tuple[Path, list[SourceSpec]], tmp_path: Path
) -> None:
    directory = copy_of(base, tmp_path)
    starts = directory / "compiled" / "v4_starts.npy"
    data = bytearray(starts.read_bytes())
    data[-3] ^= 0xFF
    starts.write_bytes(bytes(data))
    lines: list[str] = []
    again = load(directory, base[1], lines)
    assert len(lines) == 1 and "(takes a while)" in lines[0] and "incrementally" not in lines[0]
    assert again.locate("13.228.0.1").location.country == "SG"


def test_an_index_without_layer_keys_is_compiled_whole(tmp_path: Path) -> None:
    specs = [geofeed_spec(tmp_path / "feed.csv", GEOFEED)]
    target = tmp_path / "compiled"
    compile_index([build_layer(p) for p in layer_plans(specs)], target, "old")  # no keys
    assert update_index(specs, target, "new", merge_inputs_key()) is None


def _random_base(rng: random.Random, n: int, top: int) -> tuple[Any, Any, Any]:
    starts = np.unique(np.array([0, *(rng.randrange(1, top) for _ in range(n))], np.uint64))
    ends = np.empty(len(starts), np.uint64)
    ends[:-1] = starts[1:] - np.uint64(1)
    ends[-1] = np.uint64(top)
    return starts, ends, np.array([rng.randrange(50) for _ in starts], np.int64)


def _random_small_layer(rng: random.Random, top: int, count: int) -> tuple[Any, Any, Any]:
    edges = sorted({rng.randrange(0, top + 1) for _ in range(2 * count)})
    pairs = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=False)]
    first = np.array([a for a, _ in pairs], np.uint64)
    last = np.array([b for _, b in pairs], np.uint64)
    return first, last, np.array([rng.randrange(9) for _ in pairs], np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_splicing_small_layers_matches_combining_them(seed: int) -> None:
    # the fast path of an import (a small geofeed cut into the old table without sorting
    # it again) must give the boundaries and claims the generic combine gives
    rng = random.Random(seed)
    top = 10_000 if seed % 2 else int(U64_MAX)
    base = _random_base(rng, 300, top)
    layers = [_random_small_layer(rng, top, rng.randrange(0, 6)) for _ in range(1 + seed % 3)]
    bounds, matrix = _splice_layers(base, layers, top)
    want_bounds, want_matrix = combine_layers([base, *layers], top)
    assert bounds.tolist() == want_bounds.tolist()
    assert matrix.tolist() == want_matrix.tolist()


@pytest.mark.parametrize("seed", range(4))
def test_distinct_keys_ranks_rows_as_unique_rows_does(seed: int) -> None:
    rng = random.Random(seed)
    rows = []
    for _ in range(500):
        touched = rng.random() < 0.1
        rows.append(
            [
                0,
                rng.randrange(40),
                *((rng.randrange(-1, 4) if touched else -1) for _ in range(1 + seed % 2)),
            ]
        )
    keys = np.array(rows, np.int64)
    keys[:, 0] = keys[:, 1] >= 20  # the family follows the reduced id, as in a splice
    got_rows, got_inverse = _distinct_keys(keys[:, 0], keys[:, 1], keys[:, 2:])
    want_rows, want_inverse = unique_rows(keys)
    assert got_rows.tolist() == want_rows.tolist()
    assert got_inverse.tolist() == want_inverse.tolist()
