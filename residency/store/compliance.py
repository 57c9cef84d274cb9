"""The compliance report: time and checks spent compliant, per endpoint."""

from __future__ import annotations

from residency.store.db import Db
from residency.store.history import locations
from residency.store.serialize import iso
from residency.store.types import ComplianceReport, EndpointCompliance


class Compliance:
    def __init__(self, db: Db) -> None:
        self.db = db

    def report(self, since: float, until: float, stale_after: float = 86400.0) -> ComplianceReport:
        """Compliance over [since, until]: per endpoint, the share of time and of checks
        spent compliant (PASS or WAIVED), and first/last seen per location.

        A state lasts from its first check to the next state's first check; the latest
        one lasts to ``until`` but no longer than ``stale_after`` past its last check.
        """
        out: list[EndpointCompliance] = []
        with self.db.backend.transaction(write=False) as tx:
            endpoints = tx.execute(
                "SELECT id, key, host FROM endpoint WHERE last_ts >= ? ORDER BY key", (since,)
            ).rows
            for endpoint_id, key, host in endpoints:
                states = tx.execute(
                    "SELECT first_ts, last_ts, checks, verdict FROM endpoint_state"
                    " WHERE endpoint_id = ? AND late = 0 AND first_ts <= ? ORDER BY first_ts, id",
                    (endpoint_id, until),
                ).rows
                # Keep the state in force at `since` (the last one starting before it).
                start = 0
                for i, st in enumerate(states):
                    if float(st[0]) <= since:
                        start = i
                states = states[start:]
                if not any(float(st[1]) >= since for st in states):
                    continue  # every state began after `until` or ended before `since`
                checks = compliant = judged = 0
                good = total = 0.0
                for i, (first_ts, last_ts, n, verdict) in enumerate(states):
                    if float(last_ts) < since:
                        continue
                    begin = max(float(first_ts), since)
                    if i + 1 < len(states):
                        end = float(states[i + 1][0])
                    else:
                        # The latest state holds until the period ends, unless checks
                        # stopped: then only until `stale_after` past the last one.
                        end = float(last_ts) + stale_after
                    end = min(end, until)
                    span = max(0.0, end - begin)
                    checks += int(n)
                    if verdict is not None:
                        judged += int(n)
                        total += span
                        if int(verdict) <= 1:  # PASS or WAIVED
                            compliant += int(n)
                            good += span
                uptime: float | None
                if judged == 0:
                    uptime = None
                elif total > 0:
                    uptime = good / total
                else:
                    uptime = compliant / judged
                current = states[-1][3] if states else None
                out.append(
                    EndpointCompliance(
                        endpoint=key,
                        host=host,
                        checks=checks,
                        compliant_checks=compliant,
                        judged_checks=judged,
                        uptime=uptime,
                        current_verdict=None if current is None else int(current),
                        locations=tuple(locations(tx, [int(endpoint_id)], since, until=until)),
                    )
                )
        return ComplianceReport(iso(since), iso(until), tuple(out))
