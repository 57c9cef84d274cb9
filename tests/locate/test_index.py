"""The interval index: flattening nested ranges and combining layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from residency.locate.compiled import CompiledIndex
from residency.locate.index import LayerBuilder, compile_index, flatten, unique_rows


def test_flatten_most_specific_wins() -> None:
    starts, ends, vals = flatten([(0, 99, 1), (10, 19, 2), (12, 13, 3), (50, 59, 4)])
    assert list(zip(starts.tolist(), ends.tolist(), vals.tolist(), strict=True)) == [
        (0, 9, 1),
        (10, 11, 2),
        (12, 13, 3),
        (14, 19, 2),
        (20, 49, 1),
        (50, 59, 4),
        (60, 99, 1),
    ]


def test_flatten_first_duplicate_wins() -> None:
    _, _, vals = flatten([(0, 9, 7), (0, 9, 8)])
    assert vals.tolist() == [7]


def test_unique_rows_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    m = rng.integers(-1, 5, size=(500, 4)).astype(np.int32)
    rows, inv = unique_rows(m)
    assert np.array_equal(rows[inv], m)
    assert len(rows) == len(np.unique(m, axis=0))


def test_compile_and_lookup(tmp_path: Path) -> None:
    a = LayerBuilder("a", "provider-feed", "1")
    a.add_network("10.0.0.0/8", {"p": "10.0.0.0/8", "prov": "x"})
    a.add_network("10.1.0.0/16", {"p": "10.1.0.0/16", "prov": "y"})
    b = LayerBuilder("b", "geoip", "2", disjoint=True)
    b.add_network("10.1.2.0/24", {"cc": "NL"})
    b.add_network("2001:db8::/32", {"cc": "DE"})
    compile_index([a, b], tmp_path / "idx", "s1")
    index = CompiledIndex(tmp_path / "idx")

    def claims(ip: str) -> list[tuple[str, dict[str, object]]]:
        return [
            (index.layers[layer].layer_id, index.claim(layer, cid))
            for layer, cid in index.combo_claims(index.combo_of(ip))
        ]

    assert claims("10.1.2.3") == [
        ("a", {"p": "10.1.0.0/16", "prov": "y"}),
        ("b", {"cc": "NL"}),
    ]
    assert claims("10.9.9.9") == [("a", {"p": "10.0.0.0/8", "prov": "x"})]
    assert claims("11.0.0.0") == []
    assert claims("2001:db8:1::1") == [("b", {"cc": "DE"})]
    assert CompiledIndex.read_stamp(tmp_path / "idx") == "s1"
