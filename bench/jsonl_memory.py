"""Benchmark: peak memory of the streamed input (``--format jsonl``) over many names.

``--format jsonl`` grew about 80 bytes per name (issue 18): the streamed input kept a
dict entry per distinct host, to audit each host once. Each figure is the peak RSS
(VmHWM) of a fresh process that streams N distinct names through
``residency.endpoints.stream.iter_targets``, the input side of ``--format jsonl``:

- **baseline**: the record of audited hosts as a dict ``hash(host) -> categories``
  (the code before the fix, restored in the child);
- **now**: ``SentHosts``, 12 bytes a host in sorted arrays.

Resolution, location and output add a constant on top (they hold one window of names);
the end-to-end figures against a local Knot are in bench/http-policy.md.

    .venv/bin/python bench/jsonl_memory.py [--names 100000 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys
sys.path.insert(0, sys.argv[3])
from residency.endpoints import stream

class DictSent:
    # the record before the fix: one dict entry per distinct host
    def __init__(self):
        self.sent = {}
    def add(self, host, categories):
        self.sent[hash(host)] = categories
    def get(self, host):
        return self.sent.get(hash(host))

if sys.argv[2] == "baseline":
    stream.SentHosts = DictSent
count = sum(1 for _ in stream.iter_targets([sys.argv[1]]))
hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(count, hwm)
"""


def peak(path: Path, mode: str) -> tuple[int, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode, str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.names:
            path = Path(tmp) / f"names-{count}.txt"
            with path.open("w") as handle:
                for i in range(count):
                    handle.write(f"host{i}.w{i % 4096}.example.com\n")
            seen_old, old = peak(path, "baseline")
            seen_new, new = peak(path, "now")
            assert seen_old == seen_new == count
            print(
                f"{count:>9,} names  baseline {old:7.1f} MiB  now {new:7.1f} MiB  "
                f"saved {old - new:6.1f} MiB ({(old - new) * 1024 * 1024 / count:.0f} B/name)",
                flush=True,
            )


if __name__ == "__main__":
    main()
