"""Assemble an audit from command-line style options: inputs, resolver, locator, policy, report.

Kept out of ``cli.py`` so the CLI stays thin and the whole run is testable as a
library call. Returns the report text, a summary line and the exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from residency.audit import AuditError, Auditor, AuditSettings, paused_gc
from residency.model import Endpoint, InputProblem, Verdict

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_USAGE = 2

Progress = Callable[[int, int | None], None]


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
    geoip: tuple[Path, ...] = ()
    data_dir: Path | None = None
    db: str | None = None
    today: date | None = None
    zone_origin: str | None = None
    dns_ports: tuple[int, ...] = (53,)
    verbose: bool = False
    details: str | None = None
    probes: str | None = None  # "--probe tls,http": opt-in, contacts the endpoints
    probe_port: int = 443
    probe_timeout: float = 3.0
    probe_total: float = 120.0
    probe_concurrency: int = 32
    probe_rate: float = 50.0

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
            color=fmt == "terminal"
            and opts.get("output") is None
            and _stdout_is_tty()
            and not _no_color(),
            fail_on=str(opts.get("fail_on") or "fail"),
            rdap=bool(opts.get("rdap")),
            rdap_url=opts.get("rdap_url"),
            geoip=tuple(opts.get("geoip") or ()),
            data_dir=opts.get("data_dir"),
            db=opts.get("db"),
            today=today.date() if isinstance(today, datetime) else today,
            zone_origin=opts.get("zone_origin"),
            dns_ports=tuple(opts.get("dns_ports") or ()) or (53,),
            verbose=bool(opts.get("verbose")),
            details=opts.get("details"),
            probes=opts.get("probes"),
            probe_port=int(opts.get("probe_port") or 443),
            probe_timeout=float(opts.get("probe_timeout") or 3.0),
            probe_total=float(opts.get("probe_total") or 120.0),
            probe_concurrency=int(opts.get("probe_concurrency") or 32),
            probe_rate=float(opts.get("probe_rate") or 50.0),
        )


def _no_color() -> bool:
    import os

    return bool(os.environ.get("NO_COLOR"))  # https://no-color.org: any non-empty value


def _stdout_is_tty() -> bool:
    import sys

    return sys.stdout.isatty()


@dataclass(frozen=True)
class AuditOutcome:
    report: str
    summary: str
    exit_code: int
    problems: tuple[InputProblem, ...] = ()
    notes: tuple[str, ...] = ()
    run_id: str = ""
    result: Any = field(default=None, repr=False)


def read_all_inputs(request: AuditRequest) -> tuple[list[Endpoint], list[InputProblem], list[str]]:
    """Every endpoint from arguments and files; bad entries become problems."""
    from residency.endpoints import InputError, ReadOptions, read_input, read_targets
    from residency.endpoints.collect import EndpointCollector

    options = ReadOptions(zone_origin=request.zone_origin, dns_ports=request.dns_ports)
    collector = EndpointCollector()
    if request.targets:
        collector.extend(read_targets(request.targets, options=options))
    for fmt, paths in (("zone", request.zones), ("har", request.hars), ("pcap", request.pcaps)):
        for path in paths:
            try:
                collector.extend(read_input(path, fmt, options))
            except InputError as err:
                collector.problem(str(path), f"--{fmt}", str(err))
    targets = collector.targets()
    if not targets.endpoints and not targets.problems:
        raise AuditError("nothing to audit: give host names, URLs, files or '-' for stdin")
    return list(targets.endpoints), list(targets.problems), list(targets.notes)


def run_audit(request: AuditRequest, progress: Progress | None = None) -> AuditOutcome:
    """The whole ``residency audit`` job. Raises ResidencyError for usage/data errors
    (broken policy, no dataset, unreachable resolver) before anything is audited."""
    from residency.locate.locator import Locator
    from residency.report import JunitIndeterminate, RenderOptions, render, summary_line

    policy = None
    if request.policy_path is not None:
        from residency.policy import load_policy

        policy = load_policy(request.policy_path)  # a broken policy stops everything
    endpoints, problems, notes = read_all_inputs(request)
    locator = Locator.load(request.data_dir, request.geoip)
    resolver = _resolver(request) if request.resolve else None
    vantage_objs = _vantages(request, locator)
    store = None
    if request.db:  # opened first: a broken database URL stops the run before any query
        from residency.store import open_store

        store = open_store(request.db)
    registrar = _registrar(request, store) if request.rdap else None
    prober = _prober(request, policy)
    try:
        if resolver is not None and any(not e.is_ip for e in endpoints):
            for line in resolver.check_or_mark():
                notes.append(line)
        auditor = Auditor(
            resolver,
            locator,
            policy=policy,
            registrar=registrar,
            vantages=vantage_objs,
            today=request.today,
            prober=prober,
        )
        settings = AuditSettings(
            resolvers=(resolver.label,) if resolver is not None else ("none (observed only)",),
            vantages=request.vantages,
            notes=tuple(notes),
        )
        total = len(endpoints)
        on_result = None
        if progress is not None and total > 50:

            def on_result(done: int) -> None:
                if done % 50 == 0 or done == total:
                    progress(done, total)

        result = auditor.audit(endpoints, problems, settings, on_result=on_result)
        if store is not None:
            store.record_run(result)
    finally:
        if prober is not None:
            prober.close()
        if registrar is not None:
            registrar.close()
        if resolver is not None:
            resolver.close()
        if store is not None:
            store.close()
    # JUnit follows --fail-on: what makes the exit status 1 is a failure in the XML too.
    options = RenderOptions(
        color=request.color,
        verbose=request.verbose,
        details=request.details,
        junit_indeterminate=JunitIndeterminate.FAILURE
        if request.fail_on == "indeterminate"
        else JunitIndeterminate.SKIPPED,
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


def stream_audit(request: AuditRequest, out: TextIO) -> AuditOutcome:
    """``--format jsonl``: one JSON object per endpoint as it completes, then a summary
    object. Inputs are read lazily and results written at once, so a million-name list
    goes through in bounded memory (AuditResult is never built)."""
    import json

    from residency.endpoints import ReadOptions
    from residency.endpoints.stream import iter_targets
    from residency.locate.locator import Locator
    from residency.report.json_report import SCHEMA_ID, data_version_dict, endpoint_dict

    policy = None
    if request.policy_path is not None:
        from residency.policy import load_policy

        policy = load_policy(request.policy_path)
    locator = Locator.load(request.data_dir, request.geoip)
    resolver = _resolver(request) if request.resolve else None
    problems: list[InputProblem] = []
    problem_count = 0
    notes: list[str] = []
    options = ReadOptions(zone_origin=request.zone_origin, dns_ports=request.dns_ports)

    def endpoints() -> Iterator[Endpoint]:
        nonlocal problem_count
        for item in iter_targets(request.targets, options=options, notes=notes):
            if isinstance(item, InputProblem):
                problem_count += 1
                if len(problems) < 1000:  # keep the first ones to print; count all
                    problems.append(item)
                continue
            yield item

    tally: dict[str, int] = {}
    worst: Verdict | None = None
    total = 0
    prober = None
    try:
        if resolver is not None:
            notes.extend(resolver.check_or_mark())
        vantages = _vantages(request, locator)
        prober = _prober(request, policy)
        auditor = Auditor(
            resolver, locator, policy=policy, vantages=vantages, today=request.today, prober=prober
        )
        for result in auditor.results(endpoints()):
            total += 1
            out.write(json.dumps(endpoint_dict(result), ensure_ascii=False) + "\n")
            if result.verdict is not None:
                verdict = result.verdict.verdict
                tally[verdict.name] = tally.get(verdict.name, 0) + 1
                worst = verdict if worst is None else max(worst, verdict)
    finally:
        if prober is not None:
            prober.close()
        if resolver is not None:
            resolver.close()
    summary = {
        "schema": SCHEMA_ID + "+jsonl",
        "summary": {"endpoints": total, "verdicts": tally, "problems": problem_count},
        "verdict": worst.name if worst is not None else None,
        "policy": None
        if policy is None
        else {"name": policy.ref.name, "version": policy.ref.version},
        "data_versions": [data_version_dict(v) for v in locator.data_versions()],
        "notes": notes,
    }
    out.write(json.dumps(summary, ensure_ascii=False) + "\n")
    exit_code = _exit_code(worst, request.fail_on, bool(problem_count))
    verdicts = ", ".join(f"{n} {k}" for k, n in sorted(tally.items()))
    line = f"{total} endpoints streamed" + (f"; {verdicts}" if verdicts else "")
    if problem_count:
        line += f"; {problem_count} input problem(s)"
    return AuditOutcome(
        report="", summary=line, exit_code=exit_code, problems=tuple(problems), notes=tuple(notes)
    )


def _exit_code(worst: Verdict | None, fail_on: str, bad_input: bool) -> int:
    """2 for bad input entries, else 1 when the worst verdict reaches --fail-on, else 0."""
    if bad_input:
        return EXIT_USAGE
    threshold = Verdict.INDETERMINATE if fail_on == "indeterminate" else Verdict.FAIL
    return EXIT_VIOLATIONS if worst is not None and worst >= threshold else EXIT_OK


def _vantages(request: AuditRequest, locator: Any) -> list[object | None]:
    from residency.resolve.engine import Vantage

    chosen: list[object | None] = []
    for cc in request.vantages:
        prefix = locator.prefix_for_country(cc)
        if prefix is None:
            raise AuditError(
                f"--vantage {cc}: no routable prefix in that country in the GeoIP data"
            )
        chosen.append(Vantage(cc, prefix))
    return chosen or [None]


def _resolver(request: AuditRequest) -> Any:
    from residency.resolve.engine import ChainResolver, ResolverSettings

    return ChainResolver(
        ResolverSettings(
            nameservers=request.nameservers,
            doh=request.doh,
            dot=request.dot,
            timeout=request.timeout,
            concurrency=request.concurrency,
            qps=request.qps,
        )
    )


def _registrar(request: AuditRequest, store: Any = None) -> Any:
    """RDAP lookups; with a history store, its cache table is shared by every worker."""
    from residency.locate.rdap import RdapLookup

    cache = None
    if store is not None:
        from residency.locate.rdap_cache import StoreRdapCache

        cache = StoreRdapCache(store)
    return RdapLookup.open(request.rdap_url, cache)


def _prober(request: AuditRequest, policy: Any) -> Any:
    """The opt-in probes, or None; a bad --probe value stops the run before anything."""
    from residency.probe import Prober, ProbeSettings

    table = getattr(policy, "controller_table", None) if policy is not None else None
    if not request.probes:
        # No probe contacts anything; a [controllers.known] table still names controllers.
        return Prober(ProbeSettings(), table) if table else None
    settings = ProbeSettings.parse(
        request.probes,
        port=request.probe_port,
        timeout=request.probe_timeout,
        total=request.probe_total,
        concurrency=request.probe_concurrency,
        rate=request.probe_rate,
    )
    return Prober(settings, table)
