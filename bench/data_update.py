"""How long data updates take: a complete dataset from the package-registry mirrors against
the bare fetch, and one imported geofeed compiled incrementally against a full rebuild.

``python bench/data_update.py``: runs ``update(offline=True)`` into a temp directory (the
path `make setup` takes on a machine that reaches only the package registries), then a
second time (everything unchanged), and as the baseline the registry clients alone (npm
pack x3 + pip download, no validation). Needs npm and pip with registry access.

``python bench/data_update.py --compile``: on a copy of the dataset in place
($RESIDENCY_DATA_DIR), imports a 2-line geofeed and times the first ``Locator.load`` after
it (what the next ``residency ip`` pays): the incremental update, then the full rebuild of
the same index as the baseline, in one run, with the work each did and the CPU time
beside the wall time (the machine may be shared).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from residency.datasets.sources import SOURCES
from residency.datasets.update import update


def bare_fetch(work: Path) -> float:
    began = time.monotonic()
    for source in SOURCES.values():
        if source.mirror is None:
            continue
        if source.mirror.type == "npm":
            argv = ["npm", "pack", source.mirror.package, "--pack-destination", str(work)]
        else:
            argv = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(work)]
            argv.append(source.mirror.package)
        subprocess.run(argv, cwd=work, capture_output=True, check=True)
    return time.monotonic() - began


_GEOFEED = "5.5.5.0/24,NZ,NZ-AUK,Auckland,\n2a0c:9a40::/32,DE,DE-BE,Berlin,\n"


def _timed_load(directory: Path) -> tuple[float, float, list[str]]:
    """Wall and CPU seconds of the first load after a change, and what it said."""
    from residency.locate.locator import Locator

    lines: list[str] = []
    began, cpu = time.monotonic(), time.process_time()
    locator = Locator.load(directory, notify=lines.append)
    locator.locate("5.5.5.7")
    return time.monotonic() - began, time.process_time() - cpu, lines


def compile_figures() -> None:
    """Incremental against full, on a copy of the dataset in place."""
    import os
    import shutil

    from residency import paths
    from residency.datasets.importer import import_files

    source = paths.dataset_dir()
    if not (source / "manifest.json").exists():
        print(f"skipped: no dataset in {source} (make setup)")
        return
    print(f"load average: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "datasets"
        shutil.copytree(source, directory, symlinks=True)
        _timed_load(directory)  # the index in place is current before the import
        feed = Path(tmp) / "small-geofeed.csv"
        feed.write_text(_GEOFEED)
        report = import_files([feed], directory=directory)
        assert report.ok, report.outcomes
        inc_wall, inc_cpu, inc_lines = _timed_load(directory)
        shutil.rmtree(directory / "compiled")
        full_wall, full_cpu, _ = _timed_load(directory)
    print("first 'residency ip' after 'residency data import' of a 2-line geofeed")
    print(f"  incremental update      {inc_wall:7.1f} s wall  {inc_cpu:7.1f} s CPU")
    print(f"  baseline: full rebuild  {full_wall:7.1f} s wall  {full_cpu:7.1f} s CPU")
    print(f"  ratio (CPU)             {full_cpu / max(inc_cpu, 1e-9):7.1f}x")
    for line in inc_lines:
        print(f"  {line}")


def main() -> None:
    if "--compile" in sys.argv[1:]:
        compile_figures()
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "datasets"
        began = time.monotonic()
        first = update(directory=directory, offline=True, sources=SOURCES)
        cold = time.monotonic() - began
        began = time.monotonic()
        second = update(directory=directory, offline=True, sources=SOURCES)
        warm = time.monotonic() - began
        size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
        work = Path(tmp) / "bare"
        work.mkdir()
        baseline = bare_fetch(work)
    mirrored = [o.dataset for o in first.outcomes if o.ok]
    print("complete dataset from package-registry mirrors (offline mode)")
    print(f"  residency data update --offline, empty dir   {cold:6.1f} s  ({', '.join(mirrored)})")
    print(
        f"  same again, nothing changed                  {warm:6.1f} s  "
        f"({sum(o.status.value == 'not-modified' for o in second.outcomes)} not-modified)"
    )
    print(f"  baseline: npm pack x3 + pip download alone   {baseline:6.1f} s  (no validation)")
    print(
        f"  dataset on disk                              {size / 1e6:6.1f} MB; complete: "
        f"{first.complete}"
    )


if __name__ == "__main__":
    main()
