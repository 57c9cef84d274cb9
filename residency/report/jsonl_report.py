"""JSON Lines: one object per endpoint, then one summary object.

``residency audit --format jsonl`` streams these lines as endpoints complete
(``residency.audit.run.stream_audit``); ``JsonlFormatter`` writes the same lines for a
finished AuditResult. Both build the summary with ``summary_object``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from residency.model import AuditResult, DataVersion, PolicyRef
from residency.report.json_report import SCHEMA_ID, data_version_dict, endpoint_dict
from residency.textsafe import has_surrogate, json_line, scrub


def summary_object(
    endpoints: int,
    verdicts: Mapping[str, int],
    problems: int,
    worst: str | None,
    policy: PolicyRef | None,
    data_versions: Iterable[DataVersion],
    notes: Iterable[str],
) -> dict[str, Any]:
    """The last line of a jsonl report."""
    return {
        "schema": SCHEMA_ID + "+jsonl",
        "summary": {"endpoints": endpoints, "verdicts": dict(verdicts), "problems": problems},
        "verdict": worst,
        "policy": None if policy is None else {"name": policy.name, "version": policy.version},
        "data_versions": [data_version_dict(v) for v in data_versions],
        "notes": list(notes),
    }


def line(obj: Mapping[str, Any]) -> str:
    text = json.dumps(obj, ensure_ascii=False)
    if has_surrogate(text):  # no UTF-8 encoder can write an unpaired surrogate
        text = json.dumps(scrub(obj), ensure_ascii=False)
    return json_line(text) + "\n"


class JsonlFormatter:
    def render(self, result: AuditResult) -> str:
        tally: dict[str, int] = {}
        for r in result.endpoints:
            if r.verdict is not None:
                name = r.verdict.verdict.name
                tally[name] = tally.get(name, 0) + 1
        out = [line(endpoint_dict(r)) for r in result.endpoints]
        out.append(
            line(
                summary_object(
                    len(result.endpoints),
                    tally,
                    len(result.problems),
                    result.verdict.name if result.verdict is not None else None,
                    result.policy,
                    result.data_versions,
                    result.notes,
                )
            )
        )
        return "".join(out)
