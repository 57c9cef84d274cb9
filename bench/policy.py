"""Benchmark: choosing the rule for each name in a policy with very many host rules.

Prints, side by side and measured in the same run:
- ``indexed``: ``residency.policy.evaluate.scopes_for`` (patterns compiled and indexed
  once per loaded policy: exact names, suffixes, prefixes, then compiled globs);
- ``baseline``: the path before issue 18, kept here verbatim in spirit: every rule's
  every pattern through ``fnmatch.fnmatchcase`` per name (its compile cache holds 32,768
  patterns, so past that every call compiles again).

The baseline is slow by design: it is timed on ``--baseline-names`` names and compared
per name. Both give the same rule for every name timed (checked).

    .venv/bin/python bench/policy.py [--names 1000] [--rules 50000] [--baseline-names 5]
"""

from __future__ import annotations

import argparse
import fnmatch
import random
import time

from residency.policy import Policy, parse_policy
from residency.policy.evaluate import scopes_for
from residency.policy.jurisdictions import Jurisdictions
from residency.policy.model import glob_specificity


def make_policy(rules: int, seed: int = 18) -> Policy:
    """``rules`` host rules: 60% exact names, 30% ``*.domain`` suffixes, 10% other globs."""
    rng = random.Random(seed)
    lines = ['name = "bench"', 'version = "1"', "[countries]", 'allow = ["DE"]']
    for n in range(rules):
        kind = rng.random()
        if kind < 0.6:
            pattern = f"host{n}.site{n % 997}.example"
        elif kind < 0.9:
            pattern = f"*.svc{n}.example"
        else:
            pattern = f"api-{n}?.region*.example"
        lines += ["[[rules]]", f'name = "r{n}"', f'hosts = ["{pattern}"]']
        lines += ["[rules.countries]", 'allow = ["FR"]']
    return parse_policy("\n".join(lines), "bench.toml", jurisdictions=Jurisdictions.load())


def make_names(count: int, rules: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    names = []
    for i in range(count):
        n = rng.randrange(rules)
        form = i % 3
        if form == 0:
            names.append(f"host{n}.site{n % 997}.example")
        elif form == 1:
            names.append(f"www.svc{n}.example")
        else:
            names.append(f"nothing{i}.elsewhere.test")
    return names


def baseline_rule(policy: Policy, host: str) -> str:
    """The rule chosen the old way: every pattern of every rule through fnmatch."""
    best: tuple[tuple[int, int, int], str] | None = None
    for index, rule in enumerate(policy.rules):
        if rule.categories:
            continue
        matching = [p for p in rule.hosts if fnmatch.fnmatchcase(host.lower(), p.lower())]
        if not matching:
            continue
        pattern = max(matching, key=glob_specificity)
        rank = (glob_specificity(pattern), 0, -index)
        if best is None or rank > best[0]:
            best = (rank, rule.label)
    return best[1] if best else "policy"


def indexed_rule(policy: Policy, host: str) -> str:
    return scopes_for(policy, host, ())[0].label


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=50_000)
    parser.add_argument("--baseline-names", type=int, default=5)
    args = parser.parse_args()

    began = time.perf_counter()
    policy = make_policy(args.rules)
    loaded = time.perf_counter() - began
    names = make_names(args.names, args.rules)

    began = time.perf_counter()
    indexed_rule(policy, "warm.up")  # builds the index, once per loaded policy
    built = time.perf_counter() - began
    began = time.perf_counter()
    indexed = [indexed_rule(policy, name) for name in names]
    indexed_s = time.perf_counter() - began

    sample = names[: args.baseline_names]
    began = time.perf_counter()
    old = [baseline_rule(policy, name) for name in sample]
    baseline_s = time.perf_counter() - began
    assert old == indexed[: len(sample)], "the index chose another rule than fnmatch"

    per_new = indexed_s / len(names)
    per_old = baseline_s / len(sample)
    print(f"policy: {args.rules} host rules, loaded in {loaded:.2f} s, indexed in {built:.2f} s")
    print(f"indexed : {len(names):6d} names in {indexed_s:8.3f} s  ({per_new * 1e3:8.3f} ms/name)")
    print(
        f"baseline: {len(sample):6d} names in {baseline_s:8.3f} s  ({per_old * 1e3:8.3f} ms/name)"
    )
    print(
        f"ratio   : baseline/indexed per name = {per_old / per_new:,.0f}x; "
        f"{args.names} names would take the baseline ~{per_old * args.names:,.0f} s"
    )
    print(f"same rule for all {len(sample)} names compared: yes")


if __name__ == "__main__":
    main()
