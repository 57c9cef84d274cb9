"""What changed between two runs."""

from __future__ import annotations

import json

from residency.drift import Change, DriftKind, compare
from residency.store.db import Db
from residency.store.errors import RunNotFound
from residency.store.runs import Runs
from residency.store.types import DiffEntry, RunDiff


class Diff:
    def __init__(self, db: Db, runs: Runs) -> None:
        self.db = db
        self.runs = runs

    def diff(self, run_a: str | None = None, run_b: str | None = None) -> RunDiff:
        """What changed from run A to run B (the last two runs by default).

        Each endpoint is compared as it stood at each run: its latest state recorded
        at or before that run, so monitor batches that each touch a few targets compare.
        """
        if run_a is None and run_b is None:
            last = self.runs.runs(limit=2)
            if len(last) < 2:
                raise RunNotFound(
                    f"history database {self.db.label} holds {len(last)} run(s); diff needs two"
                )
            info_b, info_a = last[0], last[1]
        else:
            info_a = self.runs.run(run_a) if run_a else self.runs.runs(limit=1)[0]
            info_b = self.runs.run(run_b) if run_b else self.runs.runs(limit=1)[0]
        low, high = sorted((info_a.seq, info_b.seq))
        entries: list[DiffEntry] = []
        with self.db.backend.transaction(write=False) as tx:
            touched = tx.execute(
                "SELECT DISTINCT s.endpoint_id, e.key, e.host FROM endpoint_state s"
                " JOIN endpoint e ON e.id = s.endpoint_id"
                " WHERE s.late = 0 AND s.first_seq > ? AND s.first_seq <= ? ORDER BY e.key",
                (low, high),
            ).rows
            for endpoint_id, key, host in touched:
                states = []
                for seq in (info_a.seq, info_b.seq):
                    row = tx.execute(
                        "SELECT body, data_fp FROM endpoint_state WHERE endpoint_id = ?"
                        " AND late = 0 AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1",
                        (endpoint_id, seq),
                    ).one()
                    states.append(row)
                before, after = states
                if after is None:
                    continue
                changes = compare(
                    json.loads(before[0]) if before else None,
                    json.loads(after[0]),
                    before is not None and before[1] != after[1],
                )
                if before is None:
                    changes = [
                        Change(DriftKind.ADDRESS_APPEARED, a["ip"], None, None, "first seen")
                        for a in json.loads(after[0])["addresses"]
                    ] or [Change(DriftKind.OUTCOME_CHANGED, None, None, None, "first seen")]
                if changes:
                    entries.append(DiffEntry(key, host, tuple(changes)))
        return RunDiff(info_a, info_b, tuple(entries))
