"""The terminal report and the end-to-end audit, this tree beside a baseline tree, in one run.

Run: ``.venv/bin/python bench/terminal_report.py --baseline /tmp/main-checkout [--names 20000]``
(the baseline is a checkout of another commit, e.g. ``git worktree add --detach /tmp/base main``;
without one only this tree is measured).

Figures, every one against the same local Knot server and the same dataset:
- end-to-end audit speed: 20,000 names (CNAME -> A + AAAA) through ``Auditor.audit`` and a
  report rendered, as names/s and as a ratio to a naive dnspython loop measured in the
  same run (``bench/resolve.py``'s baseline); without a policy (JSON, as bench/resolve.py),
  and judged by ``eu-only-gdpr`` with the terminal report;
- lines in the terminal: the demo (``python -m residency.demo``) and an audit of 200
  endpoints on real cloud addresses under ``eu-only-gdpr``, at 120 and at 80 columns;
  with ``--save DIR`` their text is written there for bench/terminal-report.md.
Each tree runs in its own child process (``PYTHONPATH`` = the tree), best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.resolve import bench_zone, run_naive  # noqa: E402
from residency.demo.knot import KnotServer, Zone, find_binary  # noqa: E402

#: Public addresses in the providers' own ranges (published feeds), by what they show:
#: EU regions (pass under eu-only-gdpr), other regions (fail), anycast edges (warn).
ADDRESSES = (
    "3.120.0.10",  # aws eu-central-1
    "52.58.0.10",  # aws eu-central-1
    "34.240.0.10",  # aws eu-west-1
    "13.228.0.10",  # aws ap-southeast-1
    "52.66.98.41",  # aws ap-south-1
    "3.89.141.20",  # aws us-east-1
    "34.102.128.1",  # gcp global load balancer (anycast)
    "104.16.0.10",  # cloudflare (anycast)
    "20.50.0.10",  # azure
    "35.198.64.10",  # gcp europe-west3
)
WORDS = (
    "api",
    "auth",
    "cdn",
    "images",
    "telemetry",
    "mirrors",
    "payments",
    "checkout",
    "search",
    "static",
)

#: One audit in a child process: argv = root, nameserver, count, policy ('' = none), format.
AUDIT_CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from residency.audit.core import Auditor, paused_gc
from residency.endpoints.normalise import normalise_host
from residency.locate.locator import Locator
from residency.report import render, RenderOptions
from residency.resolve.engine import ChainResolver, ResolverSettings
address, count, policy_name, fmt = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
policy = None
if policy_name:
    from residency.policy import load_policy
    from residency.policy.catalogue import resolve_policy
    policy = load_policy(resolve_policy(policy_name))
locator = Locator.load()
resolver = ChainResolver(ResolverSettings(nameservers=(address,), timeout=5))
auditor = Auditor(resolver, locator, policy)
hosts = [normalise_host(f"n{i}.bench.test") for i in range(count)]
start = time.perf_counter()
result = auditor.audit(hosts)
with paused_gc():
    text = render(result, fmt, RenderOptions(width=120))
elapsed = time.perf_counter() - start
print(count / elapsed, len(result.endpoints), len(text))
"""


def realistic_zone(count: int) -> Zone:
    """``count`` names of a fictional app, each on one or two of ADDRESSES."""
    lines = ["$TTL 300", "@ SOA ns hostmaster 1 3600 600 86400 60", "@ NS ns", "ns A 127.0.0.1"]
    for i in range(count):
        word = WORDS[i % len(WORDS)]
        name = f"{word}{i // len(WORDS)}.eu-west.services"
        lines.append(f"{name} A {ADDRESSES[i % len(ADDRESSES)]}")
        if i % 3 == 0:
            lines.append(f"{name} A {ADDRESSES[(i * 7 + 3) % len(ADDRESSES)]}")
    return Zone(origin="shop.bench.test", text="\n".join(lines) + "\n")


def realistic_names(count: int) -> list[str]:
    return [
        f"{WORDS[i % len(WORDS)]}{i // len(WORDS)}.eu-west.services.shop.bench.test"
        for i in range(count)
    ]


def child_env(root: Path, columns: int | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    env["PYTHONPATH"] = str(root)
    # each tree reads its own shipped tables (policies included): the editable install
    # would otherwise map residency.data to this checkout's data/ for both
    env["RESIDENCY_PROJECT_DATA"] = str(root / "data")
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return env


def audit_rate(root: Path, address: str, count: int, policy: str, fmt: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", AUDIT_CHILD, str(root), address, str(count), policy, fmt],
        capture_output=True,
        text=True,
        env=child_env(root),
        cwd="/",
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"audit in {root} failed: {done.stderr.strip()[-600:]}")
    return float(done.stdout.split()[0])


def terminal_text(root: Path, args: list[str], columns: int) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "residency", *args],
        capture_output=True,
        text=True,
        env=child_env(root, columns),
        cwd="/",
        timeout=600,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"residency {' '.join(args)} in {root}: {done.stderr.strip()[-600:]}")
    return done.stdout


def demo_text(root: Path, columns: int) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "residency.demo"],
        capture_output=True,
        text=True,
        env=child_env(root, columns),
        cwd="/",
        timeout=900,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"demo in {root} failed: {done.stderr.strip()[-600:]}")
    return done.stdout


def row(label: str, value: str) -> None:
    print(f"  {label:<46}{value}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="a checkout of the commit to compare with")
    parser.add_argument("--names", type=int, default=20_000)
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--save", type=Path, help="write the terminal texts to this directory")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-lines", action="store_true")
    args = parser.parse_args()
    if find_binary("knotd") is None:
        sys.exit("bench/terminal_report.py: knotd (Debian package 'knot') is not installed")
    trees = [("this tree", ROOT)]
    if args.baseline is not None:
        trees.insert(0, ("baseline", args.baseline.resolve()))
    workdir = Path(tempfile.mkdtemp(prefix="residency-bench-"))
    zones = [bench_zone(args.names), realistic_zone(args.endpoints)]
    print(f"local Knot DNS; {args.names:,} names; {args.repeat} rounds; {os.cpu_count()} cores")
    try:
        with KnotServer(workdir / "knot", zones) as server:
            if not args.skip_speed:
                speed(server, trees, args)
            if not args.skip_lines:
                lines(server, trees, args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def speed(server: KnotServer, trees: list[tuple[str, Path]], args: argparse.Namespace) -> None:
    """Each round measures the naive loop, then every tree: a ratio is taken against the
    naive rate of its own round, so a machine busy with other work moves both."""
    run_naive(server.host, server.port, 500)  # warm the server up
    modes = (("", "json", "no policy, JSON"), ("eu-only-gdpr", "terminal", ""))
    ratios: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for round_ in range(args.repeat):
        naive = run_naive(server.host, server.port, args.names)[0]
        row(f"round {round_ + 1}: naive dnspython async loop", f"{naive:8,.0f} names/s")
        for policy, fmt, what in modes:
            what = what or f"{policy}, terminal report"
            for label, root in trees:
                rate = audit_rate(root, server.address, args.names, policy, fmt)
                ratios.setdefault((what, label), []).append((rate / naive, rate))
                row(f"  audit, {what}: {label}", f"{rate:8,.0f} names/s = {rate / naive:4.2f}x")
    print("median of the rounds (each ratio taken within its round):")
    for (what, label), seen in ratios.items():
        ratio = statistics.median(r for r, _ in seen)
        rate = statistics.median(n for _, n in seen)
        row(f"audit, {what}: {label}", f"{rate:8,.0f} names/s = {ratio:4.2f}x naive")
        if label != "baseline" and (what, "baseline") in ratios:
            base = ratios[(what, "baseline")]
            against = statistics.median(n / b for (_, n), (_, b) in zip(seen, base, strict=True))
            row(f"audit, {what}: this tree / baseline", f"{against:8.2f}x")


def lines(
    server: KnotServer, trees: list[tuple[str, Path]], args: argparse.Namespace, workdir: Path
) -> None:
    listing = workdir / "endpoints.txt"
    listing.write_text("\n".join(realistic_names(args.endpoints)) + "\n", encoding="utf-8")
    audit = ["audit", "--nameserver", server.address, "--policy", "eu-only-gdpr", str(listing)]
    for label, root in trees:
        for columns in (120, 80):
            demo = demo_text(root, columns)
            big = terminal_text(root, audit, columns)
            tag = "baseline" if label == "baseline" else "after"
            row(
                f"{label}, {columns} columns: lines",
                f"demo {len(demo.splitlines()):4}   {args.endpoints} endpoints "
                f"{len(big.splitlines()):4}   widest line "
                f"{max(map(len, (demo + big).splitlines())):4}",
            )
            if args.save is not None:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / f"demo-{tag}-{columns}.txt").write_text(demo, encoding="utf-8")
                (args.save / f"audit{args.endpoints}-{tag}-{columns}.txt").write_text(
                    big, encoding="utf-8"
                )


if __name__ == "__main__":
    main()
