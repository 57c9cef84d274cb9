"""Alert delivery with several monitor workers: drift events produced against events a
local webhook received, on a real PostgreSQL (and SQLite beside it), with and without
kill -9. The goal is 0 lost.

    python bench/monitor_delivery.py [--targets 300] [--rounds 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.delivery_scenario import run_delivery_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    from tests.integration.pg import start_postgres

    server = start_postgres()
    try:
        kills = frozenset(range(1, args.rounds, 2))
        for label, kill_rounds in (("no kills", frozenset[int]()), ("kill -9", kills)):
            for backend in ("postgresql", "sqlite"):
                with tempfile.TemporaryDirectory() as tmp:
                    db = server.fresh_url() if backend == "postgresql" else f"{tmp}/h.sqlite3"
                    figures = run_delivery_scenario(
                        db,
                        targets=args.targets,
                        rounds=args.rounds,
                        workers=args.workers,
                        kill_rounds=kill_rounds,
                    )
                print(
                    f"{backend:10} {args.workers} workers, {label:8}: {figures.line()}", flush=True
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
