"""``residency audit`` as library calls: ``run_audit`` (one report) and ``stream_audit``
(``--format jsonl``). Both get their pieces from ``residency.audit.assemble``.

Kept out of ``cli.py`` so the CLI stays thin and the whole run is testable as a
library call. Returns the report text, a summary line and the exit code.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from residency.audit.assemble import assemble, iter_inputs, load_request_policy, read_all_inputs
from residency.audit.core import AuditSettings, new_run_id, paused_gc
from residency.exitcodes import ExitCode
from residency.model import AuditResult, Endpoint, EndpointResult, InputProblem, Verdict
from residency.progress import Progress
from residency.timefmt import utc_iso

if TYPE_CHECKING:
    from residency.endpoints.crawl.record import CrawlOptions
    from residency.policy import Policy

#: The resolvers entry of a run audited without re-resolution.
NO_RESOLVER = "none (observed only)"


@dataclass(frozen=True)
class AuditRequest:
    targets: tuple[str, ...] = ()
    zones: tuple[Path, ...] = ()
    hars: tuple[Path, ...] = ()
    pcaps: tuple[Path, ...] = ()
    nameservers: tuple[str, ...] = ()
    doh: str | None = None
    dot: str | None = None
    vantages: tuple[str, ...] = ()
    timeout: float = 3.0
    concurrency: int = 256
    qps: float | None = None
    resolve: bool = True
    policy_path: Path | None = None
    fmt: str = "terminal"
    color: bool = False
    fail_on: str = "fail"
    rdap: bool = False
    rdap_url: str | None = None
    gleif: bool = False  # --gleif: owners from GLEIF's LEI records (network access, opt-in)
    geoip: tuple[Path, ...] = ()
    data_dir: Path | None = None
    db: str | None = None
    today: date | None = None
    zone_origin: str | None = None
    dns_ports: tuple[int, ...] = (53,)
    verbose: bool = False
    details: str | None = None
    width: int | None = None  # terminal report: columns to fit (the caller's terminal)
    probes: str | None = None  # "--probe tls,http": opt-in, contacts the endpoints
    probe_port: int = 443
    probe_timeout: float = 3.0
    probe_total: float = 120.0
    probe_concurrency: int = 32
    probe_rate: float = 50.0
    probe_from: str | None = None  # "--from CC|LAT,LON": where the auditor runs (rtt)
    probe_connect_to: tuple[str, ...] = ()  # "HOST:PORT:ADDR:PORT", like curl --connect-to
    crawls: tuple[str, ...] = ()  # "--crawl URL": crawl the site in Chromium, audit its hosts
    crawl_options: CrawlOptions | None = None  # --crawl-pages, --consent, bounds...
    apps: tuple[str, ...] = ()  # "--app": only what these apps (package or UID) contacted
    android_trackers: Path | None = None  # DuckDuckGo's Android tracker data set (a file)

    @classmethod
    def from_options(cls, opts: Mapping[str, Any]) -> AuditRequest:
        today = opts.get("today")
        fmt = "json" if opts.get("as_json") else str(opts.get("fmt") or "terminal")
        return cls(
            targets=tuple(opts.get("targets") or ()),
            zones=tuple(opts.get("zones") or ()),
            hars=tuple(opts.get("hars") or ()),
            pcaps=tuple(opts.get("pcaps") or ()),
            nameservers=tuple(opts.get("nameservers") or ()),
            doh=opts.get("doh"),
            dot=opts.get("dot"),
            vantages=tuple(v.upper() for v in opts.get("vantages") or ()),
            timeout=float(opts.get("timeout") or 3.0),
            concurrency=int(opts.get("concurrency") or 256),
            qps=opts.get("qps"),
            resolve=not opts.get("no_resolve"),
            policy_path=opts.get("policy_path"),
            fmt=fmt,
            # the caller decides (the CLI: --color, a terminal, NO_COLOR); never read here
            color=fmt == "terminal" and bool(opts.get("use_color")),
            fail_on=str(opts.get("fail_on") or "fail"),
            rdap=bool(opts.get("rdap")),
            gleif=bool(opts.get("gleif")),
            rdap_url=opts.get("rdap_url"),
            geoip=tuple(opts.get("geoip") or ()),
            data_dir=opts.get("data_dir"),
            db=opts.get("db"),
            today=today.date() if isinstance(today, datetime) else today,
            zone_origin=opts.get("zone_origin"),
            dns_ports=tuple(opts.get("dns_ports") or ()) or (53,),
            verbose=bool(opts.get("verbose")),
            width=opts.get("width"),
            details=opts.get("details"),
            probes=opts.get("probes"),
            probe_port=int(opts.get("probe_port") or 443),
            probe_timeout=float(opts.get("probe_timeout") or 3.0),
            probe_total=float(opts.get("probe_total") or 120.0),
            probe_concurrency=int(opts.get("probe_concurrency") or 32),
            probe_rate=float(opts.get("probe_rate") or 50.0),
            probe_from=opts.get("probe_from"),
            probe_connect_to=tuple(opts.get("probe_connect_to") or ()),
            crawls=tuple(opts.get("crawls") or ()),
            crawl_options=_crawl_options(opts) if opts.get("crawls") else None,
            apps=tuple(opts.get("apps") or ()),
            android_trackers=opts.get("android_trackers"),
        )


def _crawl_options(opts: Mapping[str, Any]) -> CrawlOptions:
    from residency.endpoints.crawl.record import CrawlOptions

    return CrawlOptions.from_options(opts)


@dataclass(frozen=True)
class AuditOutcome:
    report: str
    summary: str
    exit_code: int
    problems: tuple[InputProblem, ...] = ()
    notes: tuple[str, ...] = ()
    run_id: str = ""
    result: Any = field(default=None, repr=False)


def audit_targets(
    targets: Iterable[str] = (),
    *,
    policy: Policy | str | Path | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> AuditResult:
    """Audit ``targets`` (host names, URLs, IP literals, list/HAR/pcap/zone/dig files) and
    return the result: the library form of ``residency audit``.

    ``policy`` is a loaded ``Policy``, a shipped policy's name or a TOML path; every
    other keyword is a field of ``AuditRequest`` (``nameservers``, ``resolve``,
    ``data_dir``, ``vantages``, ``rdap``, ``db``, ...). Raises ``ResidencyError`` for
    usage and data errors (broken policy, no dataset) before anything is audited; bad
    input lines are ``result.problems``, the rest is still audited."""
    if policy is None or isinstance(policy, str | Path):
        request = AuditRequest(targets=tuple(targets), policy_path=_policy_path(policy), **options)
        return _audit(request, load_request_policy(request), progress)[0]
    return _audit(AuditRequest(targets=tuple(targets), **options), policy, progress)[0]


def _policy_path(policy: str | Path | None) -> Path | None:
    if policy is None:
        return None
    from residency.policy.catalogue import resolve_policy

    return resolve_policy(policy)


def run_audit(request: AuditRequest, progress: Progress | None = None) -> AuditOutcome:
    """The whole ``residency audit`` job. Raises ResidencyError for usage/data errors
    (broken policy, no dataset, unreachable resolver) before anything is audited."""
    from residency.report import JunitIndeterminate, RenderOptions, render, summary_line

    result, notes = _audit(request, load_request_policy(request), progress)
    problems = result.problems
    # JUnit follows --fail-on: what makes the exit status 1 is a failure in the XML too.
    options = RenderOptions(
        color=request.color,
        width=request.width,
        verbose=request.verbose,
        details=request.details,
        junit_indeterminate=JunitIndeterminate.FAILURE
        if request.fail_on in ("indeterminate", "warn")
        else JunitIndeterminate.SKIPPED,
        junit_warn_fails=request.fail_on == "warn",
    )
    with paused_gc():
        report = render(result, request.fmt, options)
    exit_code = _exit_code(result.verdict, request.fail_on, bool(problems))
    return AuditOutcome(
        report=report,
        summary=summary_line(result),
        exit_code=exit_code,
        problems=tuple(problems),
        notes=tuple(notes),
        run_id=result.run_id,
        result=result,
    )


def _audit(
    request: AuditRequest, policy: Policy | None, progress: Progress | None
) -> tuple[AuditResult, list[str]]:
    """The audit of ``request`` judged by ``policy``, recorded with ``--db``; and the
    notes of the run (resolver and RDAP notes may be added while it runs)."""
    endpoints, problems, notes = read_all_inputs(request)
    parts = assemble(request, notes, policy, check_resolver=any(not e.is_ip for e in endpoints))
    try:
        settings = AuditSettings(
            resolvers=(parts.resolver.label,) if parts.resolver is not None else (NO_RESOLVER,),
            vantages=request.vantages,
            notes=tuple(notes),
        )
        total = len(endpoints)
        on_result = None
        if progress is not None and total > 50:

            def on_result(done: int) -> None:
                if done % 50 == 0 or done == total:
                    progress(done, total)

        result = parts.auditor.audit(endpoints, problems, settings, on_result=on_result)
        if parts.store is not None:
            parts.store.record_run(result)
    finally:
        parts.close()
    return result, notes


#: Streamed results are recorded in runs of this many endpoints, so memory stays bounded.
STREAM_RUN_SIZE = 5000


def stream_audit(
    request: AuditRequest, out: TextIO, progress: Progress | None = None
) -> AuditOutcome:
    """``--format jsonl``: one JSON object per endpoint as it completes, then a summary
    object (``progress`` hears every 50th, total unknown). Inputs are read lazily and
    results written at once, so a million-name list
    goes through in bounded memory (the whole AuditResult is never built). With ``--db``
    the stream is recorded as runs of up to STREAM_RUN_SIZE endpoints, ids
    ``<run id>-0001``, ``-0002``, ... (a run id is stored once)."""
    from residency.report.json_report import endpoint_dict
    from residency.report.jsonl_report import line as jsonl_line
    from residency.report.jsonl_report import summary_object

    notes: list[str] = []
    problems: list[InputProblem] = []
    problem_count = 0
    policy = load_request_policy(request)
    inputs = iter_inputs(request, notes)  # raises "nothing to audit" at the first next()
    first = next(inputs, None)
    parts = assemble(request, notes, policy)

    def endpoints() -> Iterator[Endpoint]:
        nonlocal problem_count
        for item in itertools.chain([first] if first is not None else [], inputs):
            if isinstance(item, InputProblem):
                problem_count += 1
                if len(problems) < 1000:  # keep the first ones to print; count all
                    problems.append(item)
                continue
            yield item

    tally: dict[str, int] = {}
    worst: Verdict | None = None
    total = 0
    run_ids: list[str] = []
    chunk: list[EndpointResult] = []
    base_id = new_run_id(utc_iso())
    settings = AuditSettings(
        resolvers=(parts.resolver.label,) if parts.resolver is not None else (NO_RESOLVER,),
        vantages=request.vantages,
    )

    def record(final: bool = False) -> None:
        # The input problems are stored with the last run, as the batch path stores them.
        if parts.store is None or not (chunk or (final and problems)):
            return
        run_id = f"{base_id}-{len(run_ids) + 1:04d}"
        result = parts.auditor.assemble_result(
            chunk, settings, run_id, chunk_started[0], problems if final else ()
        )
        parts.store.record_run(result)
        run_ids.append(run_id)
        chunk.clear()

    chunk_started = [utc_iso()]
    try:
        for result in parts.auditor.results(endpoints()):
            total += 1
            out.write(jsonl_line(endpoint_dict(result)))
            if progress is not None and total % 50 == 0:
                progress(total, None)
            if result.verdict is not None:
                verdict = result.verdict.verdict
                tally[verdict.name] = tally.get(verdict.name, 0) + 1
                worst = verdict if worst is None else max(worst, verdict)
            if parts.store is not None:
                chunk.append(result)
                if len(chunk) >= STREAM_RUN_SIZE:
                    record()
                    chunk_started[0] = utc_iso()
        record(final=True)
    finally:
        parts.close()
    summary = summary_object(
        total,
        tally,
        problem_count,
        worst.name if worst is not None else None,
        policy.ref if policy is not None else None,
        parts.locator.data_versions(),
        notes,
    )
    if parts.store is not None:
        summary["runs"] = run_ids
    out.write(jsonl_line(summary))
    exit_code = _exit_code(worst, request.fail_on, bool(problem_count))
    verdicts = ", ".join(f"{n} {k}" for k, n in sorted(tally.items()))
    line = f"{total} endpoints streamed" + (f"; {verdicts}" if verdicts else "")
    if problem_count:
        line += f"; {problem_count} input problem(s)"
    if run_ids:
        line += f"; recorded as {len(run_ids)} run(s) {run_ids[0]}..."
    return AuditOutcome(
        report="",
        summary=line,
        exit_code=exit_code,
        problems=tuple(problems),
        notes=tuple(notes),
        run_id=run_ids[0] if run_ids else "",
    )


#: ``--fail-on`` choice -> the least severe verdict that makes the exit status 1.
FAIL_ON = {
    "fail": Verdict.FAIL,
    "indeterminate": Verdict.INDETERMINATE,
    "warn": Verdict.WARN,
}


def _exit_code(worst: Verdict | None, fail_on: str, bad_input: bool) -> int:
    """2 for bad input entries, else 1 when the worst verdict reaches --fail-on, else 0.
    Verdicts compare by severity (PASS < WAIVED < WARN < INDETERMINATE < FAIL), so
    ``--fail-on warn`` fails on WARN, INDETERMINATE and FAIL."""
    if bad_input:
        return ExitCode.USAGE
    threshold = FAIL_ON.get(fail_on, Verdict.FAIL)
    return ExitCode.VIOLATIONS if worst is not None and worst >= threshold else ExitCode.OK
