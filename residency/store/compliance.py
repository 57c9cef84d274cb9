"""The compliance report: time and checks spent compliant, per endpoint.

By default each state counts with the verdict recorded at the time of its checks. Given a
``judge`` (a policy's evaluation), each state is judged again from what was recorded about
it: its resolutions and the facts of each address.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from residency.model import (
    ChainStep,
    Endpoint,
    EndpointResult,
    EndpointVerdict,
    IpFacts,
    Outcome,
    Resolution,
    ResolvedAddress,
    Verdict,
)
from residency.store.backend import Tx
from residency.store.db import Db
from residency.store.history import locations
from residency.store.serialize import from_jsonable, iso
from residency.store.types import ComplianceReport, EndpointCompliance, StateJudgement

#: Judges one recorded check again: (the endpoint as recorded, the check's time) -> verdict.
Judge = Callable[[EndpointResult, float], EndpointVerdict]


def recorded_result(
    tx: Tx,
    endpoint_id: int,
    host: str,
    display: str,
    state: dict[str, Any],
    span: tuple[float, float],
) -> EndpointResult | str:
    """One recorded state as the EndpointResult a policy judges, or why it cannot be rebuilt.

    TTLs, times and error prose are not recorded (they are not part of a state), nor are the
    input's data categories: a policy scope that selects by category does not apply.
    """
    resolutions = tuple(
        Resolution(
            name=str(r["name"]),
            outcome=Outcome(r["outcome"]),
            chain=tuple(ChainStep(str(o), str(t), str(g), 0) for o, t, g in r["chain"]),
            addresses=tuple(ResolvedAddress(str(ip), None, str(via)) for ip, via in r["addresses"]),
            resolver=str(r["resolver"]),
            vantage=r["vantage"],
            ecs_prefix=r["ecs_prefix"],
        )
        for r in state["resolutions"]
    )
    wanted = {str(a["ip"]): a for a in state["addresses"]}
    found: dict[str, IpFacts] = {}
    if wanted:
        marks = ", ".join("?" for _ in wanted)
        # The observation of each address in force during the state, in the place the state
        # recorded (its facts row may have moved on to newer evidence for the same place).
        for ip, country, provider, region, body in tx.query(
            "SELECT o.ip, o.country, o.provider, o.region, f.body FROM observation o"
            " JOIN facts f ON f.id = o.facts_id WHERE o.endpoint_id = ?"
            f" AND o.ip IN ({marks}) AND o.first_ts <= ? AND o.last_ts >= ? ORDER BY o.first_ts",
            (endpoint_id, *wanted, span[1], span[0]),
        ):
            a = wanted[ip]
            if (country, provider, region) == (a["country"], a["provider"], a["region"]):
                found[ip] = from_jsonable(IpFacts, json.loads(body))
    missing = sorted(set(wanted) - set(found))
    if missing:
        return f"unknown, because the facts of {', '.join(missing)} were not recorded"
    return EndpointResult(
        endpoint=Endpoint(host, display, origin="history"),
        resolutions=resolutions,
        facts=tuple(found[ip] for ip in sorted(found)),
    )


class Compliance:
    def __init__(self, db: Db) -> None:
        self.db = db

    def report(
        self,
        since: float,
        until: float,
        stale_after: float = 86400.0,
        judge: Judge | None = None,
        judged_by: str | None = None,
    ) -> ComplianceReport:
        """Compliance over [since, until]: per endpoint, the share of time and of checks
        spent compliant (PASS, WAIVED or WARN), and first/last seen per location.

        A state lasts from its first check to the next state's first check; the latest
        one lasts to ``until`` but no longer than ``stale_after`` past its last check.
        With ``judge``, each state's verdict is ``judge``'s (named ``judged_by``) on its
        recorded facts, at the time of its first check, instead of the recorded one.
        """
        out: list[EndpointCompliance] = []
        with self.db.backend.transaction(write=False) as tx:
            endpoints = tx.execute(
                "SELECT id, key, host, display FROM endpoint WHERE last_ts >= ? ORDER BY key",
                (since,),
            ).rows
            for endpoint_id, key, host, display in endpoints:
                states = tx.execute(
                    "SELECT first_ts, last_ts, checks, verdict, body FROM endpoint_state"
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
                judgements: list[StateJudgement] = []
                checks = compliant = judged = 0
                good = total = 0.0
                current: int | None = None
                for i, (first_ts, last_ts, n, recorded, body) in enumerate(states):
                    verdict = None if recorded is None else int(recorded)
                    if judge is not None:
                        judgement = self._judge(
                            tx, judge, int(endpoint_id), host, display, first_ts, last_ts, body
                        )
                        judgements.append(judgement)
                        verdict = judgement.verdict
                    current = verdict
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
                        if Verdict(verdict).compliant:  # PASS, WAIVED or WARN
                            compliant += int(n)
                            good += span
                uptime: float | None
                if judged == 0:
                    uptime = None
                elif total > 0:
                    uptime = good / total
                else:
                    uptime = compliant / judged
                out.append(
                    EndpointCompliance(
                        endpoint=key,
                        host=host,
                        checks=checks,
                        compliant_checks=compliant,
                        judged_checks=judged,
                        uptime=uptime,
                        current_verdict=current,
                        locations=tuple(locations(tx, [int(endpoint_id)], since, until=until)),
                        judgements=tuple(judgements),
                    )
                )
        return ComplianceReport(
            iso(since), iso(until), tuple(out), judged_by if judge is not None else None
        )

    @staticmethod
    def _judge(
        tx: Tx,
        judge: Judge,
        endpoint_id: int,
        host: str,
        display: str,
        first_ts: float,
        last_ts: float,
        body: str,
    ) -> StateJudgement:
        rebuilt = recorded_result(
            tx, endpoint_id, host, display, json.loads(body), (float(first_ts), float(last_ts))
        )
        if isinstance(rebuilt, str):
            return StateJudgement(iso(float(first_ts)), None, (), rebuilt)
        verdict = judge(rebuilt, float(first_ts))
        return StateJudgement(
            iso(float(first_ts)),
            int(verdict.verdict),
            tuple(sorted((a.ip, int(a.verdict)) for a in verdict.addresses)),
        )
