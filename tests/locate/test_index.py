"""The interval index: flattening nested ranges and combining layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from residency.locate.index.build import LayerBuilder, compile_index, flatten, unique_rows
from residency.locate.index.read import CompiledIndex


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


def test_no_combo_holds_both_address_families(tmp_path: Path) -> None:
    # the same claim over IPv4 and IPv6 space: two combos, so a merged answer (whose
    # confidence is measured per family) is never shared between the families
    b = LayerBuilder("b", "geoip", "2", disjoint=True)
    b.add_network("10.2.0.0/16", {"cc": "DE"})
    b.add_network("2001:db8::/32", {"cc": "DE"})
    compile_index([b], tmp_path / "idx", "s1")
    index = CompiledIndex(tmp_path / "idx")
    four, six = index.combo_of("10.2.0.1"), index.combo_of("2001:db8::1")
    assert four != six and index.combo_claims(four) == index.combo_claims(six)
    assert index.family_of(four) == 4 and index.family_of(six) == 6
    assert index.family_of(index.combo_of("11.0.0.1")) == 4
    assert index.family_of(index.combo_of("2001:db9::1")) == 6


def test_bulk_lookups_match_single_lookups_in_any_order(tmp_path: Path) -> None:
    """The vectorised lookups sort the keys and scatter the answers back: every key,
    in whatever order, repeated or on an interval edge, gets what ``combo_of`` says."""
    import random

    a = LayerBuilder("a", "provider-feed", "1")
    b = LayerBuilder("b", "geoip", "2", disjoint=True)
    rng = random.Random(5)
    for n in range(300):
        base = rng.randrange(1 << 24) << 8
        a.add_network(f"{base >> 24}.{(base >> 16) & 255}.{(base >> 8) & 255}.0/24", {"n": n})
        b.add_network(f"{rng.randrange(1, 224)}.{rng.randrange(256)}.0.0/16", {"cc": str(n)})
        b.add_network(f"2001:db8:{n:x}::/48", {"cc": f"v6-{n}"})
    b.add_network("0.0.0.0/32", {"cc": "first"})
    b.add_network("255.255.255.255/32", {"cc": "last"})
    compile_index([a, b], tmp_path / "idx", "s1")
    index = CompiledIndex(tmp_path / "idx")
    starts = [int(s) for s in index.arrays("v4_starts")]
    v4 = [0, (1 << 32) - 1, *starts, *(max(s - 1, 0) for s in starts)]
    v4 += [rng.randrange(1 << 32) for _ in range(2000)]
    v4 += v4[:500]  # repeated keys
    rng.shuffle(v4)
    want = [index.combo_of(".".join(str((k >> s) & 255) for s in (24, 16, 8, 0))) for k in v4]
    for dtype in (np.uint32, np.uint64):  # either key width gives the same answers
        got = index.combo_of_v4(np.array(v4, dtype=dtype))
        assert got.tolist() == want
    hi = [(0x20010DB8 << 32) | (rng.randrange(400) << 16) for _ in range(1000)]
    rng.shuffle(hi)
    got6 = index.combo_of_v6(np.array(hi, dtype=np.uint64), np.zeros(len(hi), dtype=np.uint64))
    assert got6.tolist() == [index._v6_combo_one(h, 0) for h in hi]
