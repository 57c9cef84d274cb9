"""Run every benchmark in turn: ``python -m bench`` (``make bench``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "locate.py",
    "parsers.py",
    "resolve.py",
    "rdap.py",
    "policy_reports.py",
    "monitor.py",
    "pcap.py",
    "data_update.py",
    "accuracy.py",
]


def main() -> int:
    failed = []
    for name in ORDER + sorted(
        p.name for p in HERE.glob("*.py") if p.name not in ORDER and not p.name.startswith("_")
    ):
        print(f"\n=== bench/{name} ===", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)], cwd=HERE.parent).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
