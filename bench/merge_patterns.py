"""What the disagreement patterns cost merging, against the same merge without them.

Loads the dataset in place (``RESIDENCY_DATA_DIR``) and merges every combination of
claims (what the bulk summary does once per calibration) twice per round, interleaved:
with the calibration's patterns (each answer keyed and judged by its pattern) and with
``patterns={}`` (per-kind levels only, the rule before). Also prints how many
combinations the index holds against the distinct claim rows among them: the price of
keeping IPv4 and IPv6 addresses apart so each answer knows its family.

    python bench/merge_patterns.py [--rounds 3] [--limit N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from residency import paths  # noqa: E402
from residency.locate.locator import Locator  # noqa: E402
from residency.locate.trust.calibration import Calibration  # noqa: E402
from residency.locate.trust.merge import claim_evidence, merge_facts  # noqa: E402


def merge_seconds(locator: Locator, calibration: Calibration, limit: int) -> float:
    index = locator.index
    registry = locator._registry
    evidence = [
        (combo, [claim_evidence(index.layers[j], index.claim(j, c)) for j, c in claims])
        for combo in range(limit)
        for claims in [index.combo_claims(combo)]
    ]
    began = time.perf_counter()
    for combo, claims in evidence:
        merge_facts("", claims, (), registry, None, calibration, index.family_of(combo))
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="merge only the first N combos")
    args = parser.parse_args()
    directory = paths.dataset_dir()
    if not (directory / "manifest.json").exists():
        print(f"skipped: no dataset in {directory} (make setup)")
        return 0
    import numpy as np

    locator = Locator.load(directory)
    combos = np.asarray(locator.index.arrays("combos"))
    distinct = len(np.unique(combos, axis=0))
    print(
        f"combinations {len(combos):,}; distinct claim rows {distinct:,} "
        f"(x{len(combos) / distinct:.3f} for the address family)"
    )
    limit = args.limit or len(combos)
    with_patterns = locator.calibration
    without = replace(with_patterns, patterns={})
    timed: dict[str, list[float]] = {"patterns": [], "no patterns (baseline)": []}
    for _ in range(args.rounds):
        timed["no patterns (baseline)"].append(merge_seconds(locator, without, limit))
        timed["patterns"].append(merge_seconds(locator, with_patterns, limit))
    base = statistics.median(timed["no patterns (baseline)"])
    print(f"merging {limit:,} combinations, median of {args.rounds} interleaved rounds:")
    for name, runs in timed.items():
        seconds = statistics.median(runs)
        print(f"  {name:<24} {seconds:7.2f} s  x{seconds / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
