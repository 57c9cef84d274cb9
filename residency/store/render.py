"""Plain-text and JSON views of what the history store returns: timelines, runs, diffs,
compliance reports and watch targets, as the history commands print them."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from residency.drift import describe_location
from residency.model import Verdict
from residency.store.serialize import iso
from residency.store.types import ComplianceReport, RunDiff, RunInfo, Timeline, WatchTarget


def json_text(value: Any) -> str:
    """Dataclasses (and lists of them) as indented JSON."""

    def plain(item: Any) -> Any:
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            return dataclasses.asdict(item)
        return str(item)

    data = [plain(v) for v in value] if isinstance(value, list) else plain(value)
    return json.dumps(data, indent=2, default=str)


def when_text(ts: float | None) -> str:
    """A stored time for display; a value no date can hold (a store written before
    durations were bounded) shows as invalid instead of failing the whole listing."""
    if ts is None:
        return "never"
    try:
        return iso(ts)
    except (OverflowError, ValueError, OSError):
        return f"invalid ({ts:g})"


def _address_text(address: dict[str, Any]) -> str:
    return f"{address['ip']} {describe_location(address)}"


def timeline_lines(name: str, timeline: Timeline) -> list[str]:
    """``residency history``: each state the host was in, its drift events, and where
    each address was seen first and last."""
    lines = [f"{name}: {len(timeline.spans)} state(s), {len(timeline.events)} drift event(s)"]
    for span in timeline.spans:
        verdict = span.verdict
        label = "-" if verdict is None else Verdict(verdict).name
        outcomes = sorted({r["outcome"] for r in span.body["resolutions"]})
        chain = "; ".join(
            " -> ".join(step[2] for step in r["chain"])
            for r in span.body["resolutions"]
            if r["chain"]
        )
        addresses = ", ".join(_address_text(a) for a in span.body["addresses"]) or "no address"
        lines.append(
            f"  {span.first_seen} .. {span.last_seen}  {span.checks} check(s)  {label}  "
            f"{'/'.join(outcomes)}  " + (f"CNAME {chain}  " if chain else "") + addresses
        )
    if timeline.events:
        lines.append("events:")
        for event in timeline.events:
            lines.append(f"  {event.at}  {event.kind.value:<22} {event.detail}")
    lines.append("locations:")
    for loc in timeline.locations:
        where = " ".join(
            x
            for x in (
                loc.country or "??",
                loc.provider,
                loc.region,
                f"AS{loc.asn}" if loc.asn is not None else None,
            )
            if x
        )
        lines.append(
            f"  {loc.ip:<39} {where:<32} {loc.first_seen} .. {loc.last_seen}"
            + ("  (current)" if loc.current else "")
        )
    return lines


def run_line(run: RunInfo) -> str:
    """One recorded run, as ``residency runs`` lists it."""
    verdict = "" if run.verdict is None else f", verdict {Verdict(run.verdict).name}"
    return (
        f"#{run.seq} {run.id}  {run.kind}  {run.started}  {run.endpoint_count} endpoint(s),"
        f" {run.changed_count} changed{verdict}"
    )


def diff_lines(result: RunDiff) -> list[str]:
    """``residency diff``: the two runs, then per endpoint what changed."""
    lines = [
        f"from {result.run_a.id} ({result.run_a.started})",
        f"  to {result.run_b.id} ({result.run_b.started})",
    ]
    if result.run_a.data_versions != result.run_b.data_versions:
        lines.append("  data versions differ between the two runs")
    for entry in result.entries:
        lines.append(f"{entry.endpoint}:")
        for change in entry.changes:
            lines.append(f"  {change.kind.value:<22} {change.detail}")
    if not result.entries:
        lines.append("no changes")
    return lines


def compliance_lines(report: ComplianceReport) -> list[str]:
    """``residency report``: per endpoint its compliant share and where it was seen."""
    lines = [f"compliance from {report.since} to {report.until}"]
    if report.rejudged_with:
        lines.append(
            f"re-judged with policy {report.rejudged_with} from the recorded facts"
            " (the verdicts recorded at the time are not used)"
        )
    for e in report.endpoints:
        uptime = "not judged" if e.uptime is None else f"{e.uptime * 100:.2f}% compliant"
        lines.append(f"{e.endpoint}: {uptime} ({e.compliant_checks}/{e.judged_checks} checks)")
        for loc in e.locations:
            where = " ".join(x for x in (loc.country or "??", loc.provider, loc.region) if x)
            lines.append(f"  {loc.ip:<39} {where:<28} first {loc.first_seen}  last {loc.last_seen}")
    return lines


def no_data_line(report: ComplianceReport) -> str | None:
    """The notice for a period in which no endpoint was checked (None when one was)."""
    if report.endpoints:
        return None
    return f"no data: no endpoint was checked between {report.since} and {report.until}"


def target_line(target: WatchTarget) -> str:
    """One watch target with its schedule, as ``residency watch list`` shows it."""
    every = (
        f"every {target.cadence:g}s"
        if target.cadence
        else f"ttl in [{target.min_interval:g}s, {target.max_interval:g}s]"
    )
    extras = [every]
    if target.vantage:
        extras.append(f"vantage {target.vantage}")
    if target.policy:
        extras.append(f"policy {target.policy}")
    return (
        f"{target.display}  next {when_text(target.next_due)}  "
        f"last {when_text(target.last_checked)}  checks {target.checks}  " + ", ".join(extras)
    )
