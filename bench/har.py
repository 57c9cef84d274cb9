"""Benchmark: reading a HAR of repeated hosts, streamed (ijson) against json.load, same run.

Each measurement runs in a fresh subprocess so peak RSS (ru_maxrss) is its own.

    .venv/bin/python bench/har.py [--sizes 30000,300000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRY = (
    '{{"pageref":"p1","startedDateTime":"2024-01-01T00:00:{s:02d}Z","request":{{"method":"GET",'
    '"url":"https://h{h}.example/path/{i}","headers":[]}},"response":{{"status":200}},'
    '"serverIPAddress":"192.0.2.{h}"}}'
)


def write_har(path: Path, entries: int) -> None:
    with path.open("w") as out:
        out.write('{"log":{"version":"1.2","pages":[{"id":"p1","title":"t"}],"entries":[')
        for i in range(entries):
            out.write(("," if i else "") + ENTRY.format(s=i % 60, h=i % 50, i=i))
        out.write("]}}")


def child(mode: str, path: str) -> None:
    from residency.endpoints.har import HarReader, read_har
    from residency.endpoints.interface import ReadOptions

    start = time.perf_counter()
    with open(path, "rb") as stream:
        if mode == "json.load":
            targets = read_har(json.load(stream), path, ReadOptions())
        else:
            targets = HarReader().read(stream, path, ReadOptions())
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"s": elapsed, "mb": peak, "hosts": len(targets.endpoints)}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="30000,300000")
    args = parser.parse_args()
    print(f"{'entries':>8} {'MB file':>8} {'parser':>10} {'seconds':>8} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(folder) / f"{size}.har"
            write_har(path, size)
            for mode in ("json.load", "ijson"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, str(path)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                row = json.loads(out)
                print(
                    f"{size:>8} {path.stat().st_size / 1e6:>8.1f} {mode:>10} "
                    f"{row['s']:>8.2f} {row['mb']:>12.0f}"
                )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(main())
