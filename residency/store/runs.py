"""Reading runs: the latest ones, one by id, prefix or ``#SEQ``, and their count."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from residency.store.db import Db
from residency.store.errors import RunNotFound
from residency.store.types import RunInfo

_RUN_COLUMNS = (
    "seq, id, kind, started, finished, endpoint_count, changed_count, data_versions, "
    "policy, verdict, resolvers, vantages, worker"
)


def _run_info(row: Sequence[Any]) -> RunInfo:
    versions = json.loads(row[7])
    policy = json.loads(row[8]) if row[8] else None
    return RunInfo(
        seq=int(row[0]),
        id=row[1],
        kind=row[2],
        started=row[3],
        finished=row[4],
        endpoint_count=int(row[5]),
        changed_count=int(row[6]),
        data_versions=tuple((v["dataset"], v["version"]) for v in versions),
        policy=(f"{policy['name']} {policy['version']}" if policy else None),
        verdict=None if row[9] is None else int(row[9]),
        resolvers=tuple(json.loads(row[10])),
        vantages=tuple(str(v) for v in json.loads(row[11])),
        worker=row[12],
    )


class Runs:
    def __init__(self, db: Db) -> None:
        self.db = db

    def runs(self, limit: int = 50) -> list[RunInfo]:
        with self.db.backend.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_RUN_COLUMNS} FROM run ORDER BY seq DESC LIMIT ?", (limit,)
            ).rows
        return [_run_info(r) for r in rows]

    def run(self, ref: str) -> RunInfo:
        """A run by id, unique id prefix, or ``#SEQ``."""
        with self.db.backend.transaction(write=False) as tx:
            if ref.startswith("#") and ref[1:].isdigit():
                rows = tx.execute(
                    f"SELECT {_RUN_COLUMNS} FROM run WHERE seq = ?", (int(ref[1:]),)
                ).rows
            else:
                rows = (
                    tx.execute(f"SELECT {_RUN_COLUMNS} FROM run WHERE id = ?", (ref,)).rows
                    or tx.execute(
                        f"SELECT {_RUN_COLUMNS} FROM run WHERE substr(id, 1, ?) = ?"
                        " ORDER BY seq LIMIT 2",
                        (len(ref), ref),
                    ).rows
                )
        if not rows:
            raise RunNotFound(f"run {ref!r}: no such run in history database {self.db.label}")
        if len(rows) > 1:
            raise RunNotFound(f"run {ref!r}: ambiguous, matches several runs; give more of the id")
        return _run_info(rows[0])

    def run_count(self) -> int:
        with self.db.backend.transaction(write=False) as tx:
            return int(tx.execute("SELECT COUNT(*) FROM run").scalar())
