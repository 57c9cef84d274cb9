"""Benchmark: how often each source alone, and the merged answer, is right on provider addresses.

Ground truth: the providers' own published places in ../shared/data/feeds (AWS, DigitalOcean,
Linode and Vultr geofeeds; AWS ip-ranges, Google Cloud and Azure and Oracle ranges mapped
through data/regions), addresses sampled inside each published prefix
(residency.locate.trust.calibrate). Two datasets side by side, in one run:

- mirror-only: the dataset in place ($RESIDENCY_DATA_DIR, as ``make setup`` leaves it offline);
- with official feeds: the same files plus the shared official feeds imported (a temp copy).

For each source alone and for the merged answer: coverage (a country given), precision
(right, of those given) and confident-wrong (wrong at "high" confidence). The merged answer
with official feeds holds out every layer of the truth's provider (leave-one-provider-out),
so a feed is never graded against itself.

The baseline column is the mirror-only dataset merged without the calibration's
disagreement patterns (per-answer-kind levels only, the rule before patterns), so the
effect of the patterns is measured in the same run. The patterns are measured on the
addresses they grade (as the per-kind levels are); the two "patterns w/o" columns grade
each truth feed's (or provider's) addresses with patterns measured on the others only.
Targets for the merged answer (issue 12): at least 99.5% precision at 98% coverage, and
zero wrong at "high".

    python bench/accuracy.py [--held-out-only] [--full-dir DIR] [--write-default] [--wrong FILE]

First, and the figure that predicts an address residency has never seen: leave-one-operator-
out on the mirror-only dataset (residency.locate.trust.held_out), with the operators' own
geofeeds of ../shared/data/geofeeds beside the provider feeds, per class of network and per
family, each source alone and today's code as the baseline. ``--held-out-only`` stops there.

``--wrong FILE`` writes every wrong or withheld merged answer, one JSON object a line
(run, address, truth, answer, confidence, kind, pattern, why, the claims).

``--write-default`` writes the calibration measured here to data/calibration.json (the
shipped default); ``--full-dir`` keeps the with-feeds dataset there for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_FEEDS = REPO.parent / "shared" / "data" / "feeds"
#: The shared snapshots imported as the official feeds (newest AWS ranges only).
FEED_FILES = (
    "aws/aws-ip-ranges_2026-08-22.json",
    "aws-geofeed/aws-geo-ip-feed_2025-09-18.csv",
    "azure/azure-ServiceTags_Public_2026-05-06.json",
    "cloudflare/cloudflare-ips-v4_2026-05-06.txt",
    "cloudflare/cloudflare-ips-v6_2026-05-06.txt",
    "digitalocean/digitalocean-geofeed-google_2025-07-22.csv",
    "fastly/fastly-public-ip-list_2024-10-08.json",
    "gcp/gcp-cloud_2026-08-22.json",
    "gcp/goog_2026-08-22.json",
    "github/github-meta_2025-07-25.json",
    "linode/linode-geofeed_2025-07-24.csv",
    "oracle/oracle-public_ip_ranges_2025-07-21.json",
    "vultr/vultr-geofeed-constant-json_2024-04-18.json",
)
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from residency import paths  # noqa: E402
from residency.locate.locator import Locator  # noqa: E402
from residency.locate.trust import held_out  # noqa: E402
from residency.locate.trust.calibrate import (  # noqa: E402
    Measurement,
    Sample,
    Tally,
    TruthSet,
    as_measured,
    build_calibration,
    holdout_for,
    measure,
    truth_sets,
)
from residency.locate.trust.calibration import Calibration  # noqa: E402


def full_dataset(mirror: Path, target: Path) -> Path:
    """``target``: the mirror-only dataset's files plus the shared official feeds."""
    from residency.datasets.importer import import_files

    if (target / "manifest.json").exists():
        return target  # kept from an earlier run (--full-dir)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(mirror / "manifest.json", target / "manifest.json")
    (target / "raw").mkdir(exist_ok=True)
    for part in (mirror / "raw").iterdir():
        if not (target / "raw" / part.name).exists():
            (target / "raw" / part.name).symlink_to(part.resolve(), target_is_directory=True)
    if (mirror / "compiled" / "meta.json").exists() and not (target / "compiled").exists():
        # the mirror's index, so the feeds are cut into it (an incremental update)
        # instead of compiling the whole dataset again
        shutil.copytree(mirror / "compiled", target / "compiled")
    report = import_files([SHARED_FEEDS / f for f in FEED_FILES], directory=target)
    for outcome in report.outcomes:
        if not outcome.ok:
            print(f"  import failed: {outcome.line()}")
    return target


#: Issue 12's targets for the merged answer on provider-published addresses.
TARGET_PRECISION = 0.995
TARGET_COVERAGE = 0.98
TARGET_CONFIDENT_WRONG = 0


def merged_total(m: Measurement, who: str) -> Tally:
    total = Tally()
    for t in m.tallies.get(who, {}).values():
        total.merge(t)
    return total


def targets(runs: dict[str, Measurement]) -> None:
    """Coverage and precision of the merged answer at each confidence cut, and the
    targets beside the figures."""
    print(
        f"\nmerged answer against the targets (>= {TARGET_PRECISION:.1%} precision at "
        f">= {TARGET_COVERAGE:.0%} coverage, {TARGET_CONFIDENT_WRONG} wrong at high)"
    )
    for name, run in runs.items():
        t = merged_total(run, "merged")
        met = (
            t.precision >= TARGET_PRECISION
            and t.coverage >= TARGET_COVERAGE
            and t.wrong_high <= TARGET_CONFIDENT_WRONG
        )
        print(
            f"  {name:<26} coverage {t.coverage:8.3%}  precision {t.precision:8.3%}  "
            f"wrong at high {t.wrong_high:>3}  {'MET' if met else 'not met'}"
        )
        cuts = []
        right = given = 0
        for level in ("high", "medium", "low"):
            r, g = t.by_level.get(level, [0, 0])
            right, given = right + r, given + g
            cover = given / t.samples if t.samples else 0.0
            share = right / given if given else 0.0
            cuts.append(f">={level} {cover:.2%} at {share:.3%}")
        withheld = t.samples - t.given
        print(f"  {'':<26} precision/coverage: " + "; ".join(cuts) + f"; unknown {withheld}")


def cells(t: Tally | None) -> str:
    if t is None or not t.samples:
        return f"{'-':>8} {'-':>9} {'-':>6}"
    if not t.given:
        return f"{t.coverage:>8.2%} {'-':>9} {'-':>6}"
    return f"{t.coverage:>8.2%} {t.precision:>9.3%} {t.wrong_high:>6}"


def table(title: str, rows: Sequence[str], runs: dict[str, Measurement], per: str | None) -> None:
    names = list(runs)
    print(f"\n{title}")
    head = "".join(f" | {n:^25}" for n in names)
    print(f"{'answerer':<34}{head}")
    sub = "".join(f" | {'cover':>8} {'precision':>9} {'c-wrong':>6}" for _ in names)
    print(f"{'':<34}{sub}")
    for who in rows:
        out = []
        for n in names:
            m = runs[n]
            t = m.tallies.get(who, {}).get(per) if per else merged_total(m, who)
            out.append(cells(t if (t is None or t.samples) else None))
        if all(c.strip().startswith("-") for c in out):
            continue
        print(f"{who:<34}" + "".join(f" | {c}" for c in out))


def cross_validated(
    mirror: Locator,
    full: Locator,
    samples: Sequence[Sample],
    calibration: Calibration,
    sets: Sequence[TruthSet],
    by_provider: bool = True,
) -> Measurement:
    """The mirror-only dataset graded on each provider's addresses with the disagreement
    patterns measured on the other providers' addresses only (leave-one-provider-out:
    no pattern is graded against the truth it was measured on; ``by_provider`` False:
    leave one truth layer out). The source weights and per-kind levels stay as measured
    on all of them."""
    group = {ts.layer_id: ts.provider if by_provider else ts.layer_id for ts in sets}
    out = Measurement()
    leave_out = holdout_for(full, sets, "provider")
    for held in sorted(set(group.values())):
        others = [s for s in samples if group[s.truth_set] != held]
        mine = [s for s in samples if group[s.truth_set] == held]
        rows = as_measured(measure(full, others, calibration, leave_out).patterns)
        graded = measure(mirror, mine, replace(calibration, patterns=rows), holdout_for(mirror, []))
        for who, per in graded.tallies.items():
            out.tallies.setdefault(who, {}).update(per)
    return out


SHARED_GEOFEEDS = REPO.parent / "shared" / "data" / "geofeeds"
#: Issue 21's targets on the leave-one-operator-out figure.
HELD_OUT_PRECISION = {"cloud": 0.97, "hosting": 0.97, "access": 0.95}


def _row(name: str, t: Tally) -> str:
    if not t.samples:
        return f"  {name:<34} {'-':>8} {'-':>9} {'-':>7} {'-':>8}"
    precision = f"{t.precision:9.2%}" if t.given else f"{'-':>9}"
    high = t.by_level.get("high", [0, 0])[1]
    at_high = f"{high / t.samples:8.2%}" if t.by_level else f"{'-':>8}"
    return f"  {name:<34} {t.coverage:8.2%} {precision} {t.wrong_high:>7} {at_high}"


def held_out_report(mirror: Locator, wrong: Path | None = None) -> dict[str, held_out.Grades]:
    """Leave-one-operator-out, printed first: per class and family, with the baseline."""
    operators = held_out.provider_operators(SHARED_FEEDS) + held_out.load_corpus(SHARED_GEOFEEDS)
    samples = held_out.sample_operators(operators)
    study = held_out.Study(mirror, samples, operators)
    shipped = mirror.calibration
    today = replace(shipped, tie_breakers=frozenset(), geoip_split=0.0)  # before issue 21
    counts = held_out.count(study, shipped)
    loo_cache: dict[str, Calibration] = {}

    def loo(operator: str) -> Calibration:
        found = loo_cache.get(operator)
        if found is None:
            found = loo_cache[operator] = held_out.calibration_without(counts, shipped, operator)
        return found

    in_sample = held_out.calibration_without(counts, shipped, None)
    old_rule = {
        op: replace(loo(op), tie_breakers=frozenset(), geoip_split=0.0)
        for op in {s.operator for s in study.samples}
    }
    grades = held_out.Grades()
    held_out.grade(
        study, loo, "merged, leave-one-operator-out", grades, keep_wrong=wrong is not None
    )
    held_out.grade(study, lambda _: today, "baseline: today's code", grades)
    held_out.grade(study, lambda _: shipped, "shipped table, new rules", grades)
    held_out.grade(study, lambda op: old_rule[op], "today's rule, held-out tables", grades)
    held_out.grade(study, lambda _: in_sample, "merged, in-sample", grades)
    held_out.grade_sources(study, grades)
    problems = sum(len(op.problems) for op in operators)
    print(
        f"\nleave-one-operator-out: {len(study.samples):,} addresses of {len(operators)} "
        f"operators ({sum(1 for o in operators if o.provider is None)} from "
        f"{SHARED_GEOFEEDS.name}/); {problems} bad corpus lines skipped; "
        f"{sum(study.dropped.values())} addresses dropped (space the operator does not hold)"
    )
    sources = sorted(w for w in grades.tallies if w.startswith(("geoip:", "cloudip")))
    order = [
        "merged, leave-one-operator-out",
        "baseline: today's code",
        "shipped table, new rules",
        "today's rule, held-out tables",
        "merged, in-sample",
        *sources,
    ]
    groups = ["all", *held_out.CLASSES, "v4", "v6"]
    for group in groups:
        if not grades.get("merged, leave-one-operator-out", group).samples:
            continue
        n = grades.get("merged, leave-one-operator-out", group).samples
        print(f"\n {group} ({n:,} addresses)")
        print(
            f"  {'answerer':<34} {'coverage':>8} {'precision':>9} {'wrong@high':>7} {'at high':>8}"
        )
        for who in order:
            print(_row(who, grades.get(who, group)))
        merged = grades.get("merged, leave-one-operator-out", group)
        best = max(sources, key=lambda w: grades.get(w, group).right)
        b = grades.get(best, group)
        merged_name = "merged, leave-one-operator-out"
        same = {w: grades.on_answered_by(w, merged_name, group) for w in sources}
        top = max(sources, key=lambda w: same[w].right)
        share = same[top].right / max(same[top].samples, 1)
        print(
            f"  at the merge's coverage, the best source is {top}: "
            f"{same[top].right}/{same[top].samples} right ({share:.2%}) "
            f"against the merge's {merged.right}/{merged.given} ({merged.precision:.2%})"
        )
        target = HELD_OUT_PRECISION.get(group)
        verdicts = [
            f"merged {'>=' if merged.right >= same[top].right else '<'} best source at the "
            f"same coverage ({merged.right} vs {same[top].right} right); at full coverage "
            f"{best} has {b.right}"
        ]
        if target is not None:
            verdicts.append(
                f"precision {merged.precision:.2%} {'>=' if merged.precision >= target else '<'} "
                f"{target:.0%} target"
            )
        verdicts.append(f"wrong at high {merged.wrong_high} (target 0)")
        print("  -> " + "; ".join(verdicts))
    if wrong is not None:
        with wrong.open("w") as out:
            for sample, facts in grades.wrong:
                record = {
                    "run": "leave-one-operator-out",
                    "ip": sample.ip,
                    "truth": sample.truth,
                    "operator": sample.operator,
                    "class": sample.truth_class,
                    "answer": held_out.country_of(facts.location.place),
                    "confidence": facts.location.confidence.value,
                    "pattern": facts.location.pattern,
                    "why": facts.location.why,
                }
                out.write(json.dumps(record) + "\n")
    return {"held_out": grades}


SHARED_ANYCAST = REPO.parent / "shared" / "data" / "anycast"
#: Served from many places: the measured anycast prefixes and the CDNs' published ranges.
ANYCAST_TRUTH = (
    ("measured anycast (bgp.tools)", "bgptools-anycatch-v4_2026-08-22.txt"),
    ("measured anycast (bgp.tools)", "bgptools-anycatch-v6_2026-08-22.txt"),
)
CDN_FEEDS = (
    ("Cloudflare's ranges", "cloudflare/cloudflare-ips-v4_2026-05-06.txt"),
    ("Cloudflare's ranges", "cloudflare/cloudflare-ips-v6_2026-05-06.txt"),
    ("Fastly's ranges", "fastly/fastly-public-ip-list_2024-10-08.json"),
)


def _prefixes(path: Path) -> list[str]:
    if path.suffix == ".json":
        doc = json.loads(path.read_text())
        return [*doc.get("addresses", []), *doc.get("ipv6_addresses", [])]
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def anycast_report(mirror: Locator, per_set: int = 1500, seed: int = 8805) -> None:
    """The CDN/anycast class: addresses served from many places, whose right answer is
    no single place. Graded on the mirror-only dataset (no measured anycast list), with
    and without the documented anycast table (data/anycast.toml, issue 21)."""
    import ipaddress
    import random

    from residency.datasets.anycast_table import DOCUMENTED_ANYCAST_LAYER
    from residency.locate.trust.merge import claim_evidence, merge_facts

    rng = random.Random(seed)
    sets: dict[str, list[str]] = {}
    for name, path in [
        *((n, SHARED_ANYCAST / f) for n, f in ANYCAST_TRUTH),
        *((n, SHARED_FEEDS / f) for n, f in CDN_FEEDS),
    ]:
        if path.is_file():
            sets.setdefault(name, []).extend(_prefixes(path))
    if not sets:
        print("\n cdn-anycast: skipped (no measured anycast list nor CDN feed in shared data)")
        return
    index = mirror.index
    print(
        "\n cdn-anycast: addresses served from many places (the right answer is no single"
        " place), mirror-only dataset"
    )
    print(
        f"  {'truth (addresses)':<38} {'answerer':<30} {'anycast':>8} {'unknown':>8} "
        f"{'a place':>8} {'at high':>8}"
    )
    for name, prefixes in sets.items():
        chosen = rng.sample(prefixes, min(per_set, len(prefixes)))
        ips = []
        for prefix in chosen:
            net = ipaddress.ip_network(prefix, strict=False)
            ips.append(str(net.network_address + rng.randrange(net.num_addresses)))
        rows: dict[str, list[int]] = {}
        sources: dict[str, int] = {}
        for combo in mirror.combos(ips):
            claims = [(j, index.claim(j, c)) for j, c in index.combo_claims(int(combo))]
            if any(c.get("bogon") for _, c in claims):
                continue
            evidence = [claim_evidence(index.layers[j], c) for j, c in claims]
            family = index.family_of(int(combo))
            without = [e for e in evidence if e.source != DOCUMENTED_ANYCAST_LAYER]
            for who, ev in (
                ("merged", evidence),
                ("baseline: no documented table", without),
            ):
                facts = merge_facts("", ev, (), mirror._registry, None, mirror.calibration, family)
                row = rows.setdefault(who, [0, 0, 0, 0])
                loc = facts.location
                row[0 if facts.anycast else 1 if loc.place is None else 2] += 1
                row[3] += loc.place is not None and loc.confidence.value == "high"
            for e in without:
                if e.place is not None and e.kind.value == "geoip":
                    sources[e.source] = sources.get(e.source, 0) + 1
        total = len(ips)
        label = f"{name} ({total:,})"
        for who, (anycast, unknown, placed, high) in rows.items():
            print(
                f"  {label:<38} {who:<30} {anycast / total:8.2%} {unknown / total:8.2%} "
                f"{placed / total:8.2%} {high / total:8.2%}"
            )
            label = ""
        for source, placed in sorted(sources.items()):
            print(f"  {'':<38} {source + ' alone':<30} {'-':>8} {'-':>8} {placed / total:8.2%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-dir", type=Path, default=None)
    parser.add_argument("--write-default", action="store_true")
    parser.add_argument("--wrong", type=Path, default=None, help="dump wrong/withheld answers")
    parser.add_argument("--held-out-only", action="store_true")
    args = parser.parse_args()
    if not SHARED_FEEDS.is_dir():
        print(f"skipped: {SHARED_FEEDS} not present (the shared data snapshots)")
        return 0
    mirror_dir = paths.dataset_dir()
    if not (mirror_dir / "manifest.json").exists():
        print(f"skipped: no dataset in {mirror_dir} (make setup)")
        return 0
    print(f"load average: {os.getloadavg()[0]:.1f}")
    began = time.monotonic()
    mirror = Locator.load(mirror_dir)
    held_out_report(mirror, args.wrong.with_suffix(".held-out.jsonl") if args.wrong else None)
    anycast_report(mirror)
    print(f"\nheld-out figures measured ({time.monotonic() - began:.0f} s)")
    if args.held_out_only:
        return 0
    if truth_sets(mirror):
        print(f"note: {mirror_dir} already holds official feeds; 'mirror-only' is not mirror-only")
    with tempfile.TemporaryDirectory() as tmp:
        full_dir = full_dataset(mirror_dir, args.full_dir or Path(tmp) / "full")
        full = Locator.load(full_dir, notify=lambda line: print(f"  {line}"))
        print(f"datasets ready ({time.monotonic() - began:.0f} s)")
        began = time.monotonic()
        built = build_calibration(full, holdout="provider")
        if built is None:
            print("no ground-truth layer in the with-feeds dataset")
            return 1
        calibration, _, samples = built
        print(f"calibration measured on {len(samples):,} sampled addresses")
        for ts in calibration.provenance["ground_truth"]:
            print(f"  {ts['layer']:<22} {ts['version'][:34]:<34} {ts['samples']:>6} samples")
        sets = truth_sets(full)
        own = build_calibration(full, holdout="feed")  # what 'data update' would measure
        assert own is not None
        keep = args.wrong is not None
        no_patterns = replace(calibration, patterns={})
        runs = {
            "baseline: no patterns": measure(
                mirror, samples, no_patterns, holdout_for(mirror, []), keep=keep
            ),
            "mirror-only": measure(
                mirror, samples, calibration, holdout_for(mirror, []), True, keep
            ),
            "feeds, truth feed out": measure(
                full, samples, own[0], holdout_for(full, sets, "feed"), alone=True, keep=keep
            ),
            "feeds, provider out": measure(
                full, samples, calibration, holdout_for(full, sets, "provider"), keep=keep
            ),
            "mirror, patterns w/o feed": cross_validated(
                mirror, full, samples, calibration, sets, by_provider=False
            ),
            "mirror, patterns w/o prov": cross_validated(mirror, full, samples, calibration, sets),
        }
        if args.wrong is not None:
            with args.wrong.open("w") as out:
                for name, run in runs.items():
                    for graded in run.kept:
                        out.write(json.dumps({"run": name, **graded.record()}) + "\n")
            print(f"wrong and withheld answers: {args.wrong}")
        print(f"measured ({time.monotonic() - began:.0f} s)")
        sources = sorted({w for m in runs.values() for w in m.tallies} - {"merged"})
        table("all ground truth (merged: provider held out)", [*sources, "merged"], runs, None)
        for ts in calibration.provenance["ground_truth"]:
            table(f"truth: {ts['layer']}", ["merged"], runs, ts["layer"])
        print("\nmerged answers by confidence: right/given (share right)")
        for name, run in runs.items():
            levels: dict[str, list[int]] = {}
            for t in run.tallies["merged"].values():
                for level, (r, g) in t.by_level.items():
                    row = levels.setdefault(level, [0, 0])
                    row[0] += r
                    row[1] += g
            shown = []
            for level in ("high", "medium", "low"):
                r, g = levels.get(level, [0, 0])
                shown.append(f"{level} {r}/{g} ({r / g if g else 0:.3%})")
            print(f"  {name:<26} " + "; ".join(shown))
        targets(runs)
        if args.write_default:
            provenance = {
                **calibration.provenance,
                "ground_truth_files": "../shared/data/feeds snapshots (dates in the layer "
                "versions; repositories and commits in ../shared/data/README.md): "
                + ", ".join(FEED_FILES),
                "built_by": "python bench/accuracy.py --write-default",
            }
            shipped = Calibration.from_json(replace(calibration, provenance=provenance).to_json())
            target = REPO / "data" / "calibration.json"
            target.write_text(shipped.to_json())
            print(f"\nwrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
