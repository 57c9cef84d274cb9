"""How long a complete dataset takes from the package-registry mirrors, against the bare fetch.

Runs ``update(offline=True)`` into a temp directory (the path `make setup` takes on a machine
that reaches only the package registries), then a second time (everything unchanged), and
as the baseline the registry clients alone (npm pack x3 + pip download, no validation).
Needs npm and pip with registry access; prints figures side by side.
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


def main() -> None:
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
