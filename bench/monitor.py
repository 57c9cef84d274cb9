"""Monitor benchmark: re-resolution throughput with storage, bytes per observation,
and claiming due targets among a million.

    .venv/bin/python bench/monitor.py [--targets 100000] [--claim-targets 1000000] [--pg]
                                      [--pg-workers 2]

Every figure is printed beside a baseline measured in the same run:
- throughput: one worker (``Monitor.run_once``: claim, resolve against a local Knot DNS
  server, audit with the production ``AuditorAudit``, record, reschedule) versus the
  resolver alone and the store alone;
- on PostgreSQL, ``--pg-workers`` monitor processes together (each its own connection,
  resolver and audit, claiming from one target table) versus the resolver alone, with
  each target checked exactly once (duplicates and missed targets are counted);
- bytes per observation: the deduplicated store (unchanged and changed checks) versus
  a naive table that keeps one full row per check;
- claiming a batch of 1,000 due targets among 1,000,000: with the ``next_due`` index
  versus the same query without it.

Locations come from a small stand-in table (the Locator's speed is measured by its own
benchmark); resolution and storage are the real ones.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from residency.audit.assemble import Assembly
from residency.demo.knot import KnotServer, Zone, find_binary
from residency.model import (
    Confidence,
    DataVersion,
    Evidence,
    EvidenceKind,
    IpFacts,
    Location,
    Place,
    Registration,
)
from residency.monitor.audit import AuditorAudit
from residency.monitor.loop import Monitor
from residency.resolve.engine import ChainResolver, ResolverSettings
from residency.store import Store, TargetSpec, open_store

PLACES = [
    ("DE", "eu-central-1"),
    ("IE", "eu-west-1"),
    ("FR", "eu-west-3"),
    ("US", "us-east-1"),
]
TTL = 300


def address(i: int, moved: bool = False) -> str:
    base = 100 if moved else 10
    return f"{base}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def zone_text(n: int, moved: set[int]) -> str:
    lines = [
        f"$TTL {TTL}",
        f"@ 3600 SOA ns hostmaster {2 if moved else 1} 3600 600 86400 60",
        "@ 3600 NS ns",
        "ns A 127.0.0.1",
    ]
    lines += [f"h{i} A {address(i, i in moved)}" for i in range(n)]
    return "\n".join(lines) + "\n"


class TableLocator:
    """Stand-in locator: a place per address from its octets (moved ones elsewhere)."""

    def __init__(self) -> None:
        self.cache: dict[str, IpFacts] = {}

    def data_versions(self) -> tuple[DataVersion, ...]:
        return (DataVersion("bench", "1"),)

    def prefix_for_country(self, country: str) -> str | None:
        return None

    def locate(
        self, ip: str, hints: Sequence[Evidence] = (), registration: Registration | None = None
    ) -> IpFacts:
        return self.locate_many([ip])[0]

    def locate_many(self, ips: Sequence[str]) -> list[IpFacts]:
        out = []
        for ip in ips:
            facts = self.cache.get(ip)
            if facts is None:
                octets = [int(x) for x in ip.split(".")]
                country, region = PLACES[(octets[3] + (1 if octets[0] == 100 else 0)) % 4]
                place = Place(country)
                evidence = Evidence(
                    "aws-ip-ranges",
                    EvidenceKind.PROVIDER_FEED,
                    "bench-1",
                    prefix=f"{octets[0]}.{octets[1]}.{octets[2]}.0/24",
                    place=place,
                    provider="aws",
                    region=region,
                    asn=16509,
                )
                facts = IpFacts(
                    ip=ip,
                    routable=True,
                    location=Location(place, Confidence.HIGH, "provider-feed"),
                    asn=16509,
                    provider="aws",
                    region=region,
                    evidence=(evidence,),
                )
                self.cache[ip] = facts
            out.append(facts)
        return out


def table_bytes(store: Store) -> int:
    """Live bytes after VACUUM: replaced row versions (PostgreSQL MVCC) are not history."""
    return store.size_bytes(compact=True)


def run_pass(monitor: Monitor, label: str, n: int) -> float:
    started = time.perf_counter()
    stats = monitor.run_once()
    elapsed = time.perf_counter() - started
    rate = stats.checked / elapsed
    print(
        f"  {label:<44} {stats.checked:>7} checks in {elapsed:6.1f} s = {rate:7.0f} /s"
        f"  ({stats.changed} changed, {stats.events} events)"
    )
    if stats.checked != n:
        print(f"  !! expected {n} checks", file=sys.stderr)
    return rate


def naive_bytes_per_check(store: Store, sample: int) -> float:
    """Baseline: one row per check holding the endpoint state and its facts."""
    path = Path(tempfile.mkdtemp()) / "naive.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE check_row (id INTEGER PRIMARY KEY, run_id TEXT, host TEXT, ts REAL,"
        " state TEXT, facts TEXT)"
    )
    with store.backend.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT e.host, s.body, f.body FROM endpoint e JOIN endpoint_state s"
            " ON s.id = e.state_id JOIN observation o ON o.endpoint_id = e.id AND o.current = 1"
            " JOIN facts f ON f.id = o.facts_id LIMIT ?",
            (sample,),
        ).rows
    conn.execute("PRAGMA page_size")
    base = path.stat().st_size
    conn.executemany(
        "INSERT INTO check_row (run_id, host, ts, state, facts) VALUES (?, ?, ?, ?, ?)",
        [(f"run-{i // 1000}", h, time.time(), s, f) for i, (h, s, f) in enumerate(rows)],
    )
    conn.commit()
    conn.close()
    return (path.stat().st_size - base) / max(1, len(rows))


def store_only_rate(store: Store, results: list[object], n: int) -> float:
    from dataclasses import replace

    started = time.perf_counter()
    done = 0
    for i, result in enumerate(results):
        fresh = replace(result, run_id=f"store-only-{i}")  # type: ignore[type-var]
        done += store.record(fresh, kind="monitor").checked  # type: ignore[arg-type]
    return done / (time.perf_counter() - started)


def throughput(args: argparse.Namespace, workdir: Path, db: str) -> None:
    n = args.targets
    print(f"== re-resolution with storage: {n} targets, one worker, db {db.split('?')[0]}")
    binary = find_binary("knotd")
    if binary is None:
        print("knotd is not installed (Debian package knot); skipping throughput", file=sys.stderr)
        return
    server = KnotServer(workdir / "knot", [Zone("bench.test", zone_text(n, set()))], binary=binary)
    server.start()
    store = open_store(db)
    try:
        t0 = 2_000_000_000.0
        clock_now = [t0]
        store.add_targets(
            (TargetSpec(f"h{i}.bench.test", cadence=TTL, jitter=0) for i in range(n)), t0
        )
        settings = ResolverSettings(
            nameservers=(server.address,),
            timeout=5.0,
            concurrency=args.concurrency,
            https_hints=False,
        )
        resolver = ChainResolver(settings)
        locator = TableLocator()

        started = time.perf_counter()
        count = sum(1 for _ in resolver.resolve_many(f"h{i}.bench.test" for i in range(n)))
        resolve_rate = count / (time.perf_counter() - started)
        print(
            f"  {'baseline: resolver alone (A+AAAA)':<44} {count:>7} names           = "
            f"{resolve_rate:7.0f} /s"
        )

        captured: list[object] = []

        class Capturing(AuditorAudit):
            def __call__(self, batch):  # type: ignore[no-untyped-def]
                result = super().__call__(batch)
                if len(captured) < 1000:
                    captured.append(result)
                return result

        # The production audit function (the full Auditor: hostname hints, operators).
        audit = Capturing(Assembly.of(resolver, locator))
        monitor = Monitor(
            store, audit, clock=lambda: clock_now[0], batch_size=args.batch, worker="bench"
        )
        size0 = table_bytes(store)
        run_pass(monitor, "pass 1: first sight (every state new)", n)
        size1 = table_bytes(store)

        clock_now[0] += TTL + 1
        captured.clear()
        rate = run_pass(monitor, "pass 2: re-resolution, nothing changed", n)
        size2 = table_bytes(store)

        moved = set(random.Random(5).sample(range(n), n // 10))
        server.set_zone(Zone("bench.test", zone_text(n, moved)), timeout=120)
        clock_now[0] += TTL + 1
        run_pass(monitor, f"pass 3: re-resolution, {len(moved)} moved", n)
        size3 = table_bytes(store)

        store_rate = store_only_rate(store, captured, n)
        print(
            f"  {'baseline: store alone (record, unchanged)':<44} {'':>7}                 = "
            f"{store_rate:7.0f} /s"
        )
        verdict = "meets" if rate >= 2000 else "BELOW"
        print(f"  => {rate:.0f} re-resolutions/s with storage ({verdict} the 2,000/s target)")

        naive = naive_bytes_per_check(store, 5000)
        print("== bytes per observation")
        print(f"  first sight                    {(size1 - size0) / n:10.1f} B/check")
        print(f"  unchanged re-resolution        {(size2 - size1) / n:10.1f} B/check")
        print(
            f"  changed ({len(moved)} of {n})      "
            f"{(size3 - size2) / max(1, len(moved)):10.1f} B/changed check "
            f"({(size3 - size2) / n:.1f} B/check overall)"
        )
        print(f"  baseline: naive row per check  {naive:10.1f} B/check")
    finally:
        store.close()
        server.stop()


def _worker_pass(
    db: str, nameserver: str, name: str, now: float, args: argparse.Namespace, ready: Any, out: Any
) -> None:
    """One monitor process for one pass: set up, wait for the others, run_once, report."""
    store = open_store(db)
    settings = ResolverSettings(
        nameservers=(nameserver,), timeout=5.0, concurrency=args.concurrency, https_hints=False
    )
    resolver = ChainResolver(settings)
    checked: list[str] = []
    spent = {"audit": 0.0, "commit": 0.0, "claim": 0.0}

    class Logging(AuditorAudit):
        def __call__(self, batch):  # type: ignore[no-untyped-def]
            checked.extend(e.host for e in batch.endpoints)
            begin = time.perf_counter()
            try:
                return super().__call__(batch)
            finally:
                spent["audit"] += time.perf_counter() - begin

    def timed(name: str, call: Any) -> Any:
        def run(*a: Any, **k: Any) -> Any:
            begin = time.perf_counter()
            try:
                return call(*a, **k)
            finally:
                spent[name] += time.perf_counter() - begin

        return run

    store.complete_batch = timed("commit", store.complete_batch)  # type: ignore[method-assign]
    store.claim_due = timed("claim", store.claim_due)  # type: ignore[method-assign]

    monitor = Monitor(
        store,
        Logging(Assembly.of(resolver, TableLocator())),
        clock=lambda: now,
        batch_size=args.worker_batch,
        worker=name,
        freeze_gc=not args.no_freeze,  # as the CLI's monitor does
    )
    ready.wait()
    started = time.time()
    stats = monitor.run_once()
    out.put((name, started, time.time(), stats.checked, stats.changed, checked))
    if args.verbose:
        print(
            f"    {name}: {stats.line()} in {time.time() - started:.1f} s; "
            + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items()),
            file=sys.stderr,
        )
    store.close()


def workers_pass(
    args: argparse.Namespace, db: str, nameserver: str, now: float, label: str, n: int
) -> float:
    count = args.pg_workers
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(count)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker_pass, args=(db, nameserver, f"w{k}", now, args, ready, out), daemon=True
        )
        for k in range(count)
    ]
    for proc in procs:
        proc.start()
    reports = [out.get(timeout=3600) for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = max(r[2] for r in reports) - min(r[1] for r in reports)
    seen = Counter(host for r in reports for host in r[5])
    duplicates = sum(c - 1 for c in seen.values() if c > 1)
    missed = n - len(seen)
    checked = sum(r[3] for r in reports)
    rate = checked / elapsed
    shares = "+".join(str(r[3]) for r in sorted(reports))
    print(
        f"  {label:<44} {checked:>7} checks in {elapsed:6.1f} s = {rate:7.0f} /s"
        f"  ({shares}; {sum(r[4] for r in reports)} changed; duplicates={duplicates},"
        f" missed={missed})"
    )
    if duplicates or missed:
        print(f"  !! {duplicates} duplicate and {missed} missed checks", file=sys.stderr)
    return rate


def workers_bench(args: argparse.Namespace, workdir: Path, db: str) -> None:
    """Several monitor processes on one PostgreSQL versus the resolver alone, in one run."""
    n = args.targets
    count = args.pg_workers
    print(f"== {count} monitor workers together on PostgreSQL: {n} targets")
    binary = find_binary("knotd")
    if binary is None:
        print("knotd is not installed (Debian package knot); skipping workers", file=sys.stderr)
        return
    server = KnotServer(
        workdir / "knot-workers", [Zone("bench.test", zone_text(n, set()))], binary=binary
    )
    server.start()
    store = open_store(db)
    try:
        now = 2_000_000_000.0
        store.add_targets(
            (TargetSpec(f"h{i}.bench.test", cadence=TTL, jitter=0) for i in range(n)), now
        )
        settings = ResolverSettings(
            nameservers=(server.address,),
            timeout=5.0,
            concurrency=args.concurrency,
            https_hints=False,
        )

        def resolver_alone() -> float:
            begin = time.perf_counter()
            names = (f"h{i}.bench.test" for i in range(n))
            resolved = sum(1 for _ in ChainResolver(settings).resolve_many(names))
            rate = resolved / (time.perf_counter() - begin)
            print(
                f"  {'baseline: resolver alone (A+AAAA), 1 process':<44} {resolved:>7} names"
                f"           = {rate:7.0f} /s"
            )
            return rate

        workers_pass(args, db, server.address, now, "pass 1: first sight", n)
        # The machine is shared: alternate baseline and workers, and take the median ratio.
        ratios = []
        for r in range(args.rounds):
            baseline = resolver_alone()
            now += TTL + 1
            rate = workers_pass(
                args, db, server.address, now, f"pass {2 + r}: re-resolution, unchanged", n
            )
            ratios.append(rate / baseline)
        moved = set(random.Random(5).sample(range(n), n // 10))
        server.set_zone(Zone("bench.test", zone_text(n, moved)), timeout=120)
        baseline = resolver_alone()
        now += TTL + 1
        rate = workers_pass(
            args, db, server.address, now, f"pass {2 + args.rounds}: {len(moved)} moved", n
        )
        moved_ratio = rate / baseline
        passes = 2 + args.rounds
        checks = Counter(t.checks for t in store.list_targets())
        print(
            f"  target check counts after {passes} passes: {dict(checks)} (want {{{passes}: {n}}})"
        )
        share = statistics.median(ratios)
        verdict = "meets" if share >= 0.9 else "BELOW"
        print(
            f"  => {count} workers re-resolve at {share * 100:.0f}% of the resolver-alone rate"
            f" (median of {len(ratios)}: {', '.join(f'{x * 100:.0f}%' for x in ratios)};"
            f" {verdict} the 90% target); with 10% moved {moved_ratio * 100:.0f}%"
        )
    finally:
        store.close()
        server.stop()


def claim_bench(args: argparse.Namespace, workdir: Path, db: str, label: str) -> None:
    m = args.claim_targets
    print(f"== claiming 1,000 due targets among {m:,} ({label})")
    store = open_store(db)
    try:
        rng = random.Random(1)
        t0 = 1_000_000.0
        started = time.perf_counter()
        with store.backend.transaction() as tx:
            if store.backend.dialect == "postgresql":
                tx.execute(
                    "INSERT INTO target (host, display, min_interval, max_interval, jitter,"
                    " source, added, next_due) SELECT 'h' || g || '.claim.test',"
                    " 'h' || g || '.claim.test', 300, 86400, 0.1, 'bench', 'bench',"
                    " ? + random() * 86400 FROM generate_series(1, ?) g",
                    (t0, m),
                )
            else:
                rows = (
                    (
                        f"h{i}.claim.test",
                        f"h{i}.claim.test",
                        300.0,
                        86400.0,
                        0.1,
                        "bench",
                        "bench",
                        t0 + rng.random() * 86400,
                    )
                    for i in range(m)
                )
                for chunk in iter(lambda: list(itertools.islice(rows, 50_000)), []):
                    tx.executemany(
                        "INSERT INTO target (host, display, min_interval, max_interval, jitter,"
                        " source, added, next_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        chunk,
                    )
        if store.backend.dialect == "postgresql":
            with store.backend.transaction() as tx:
                tx.execute("ANALYZE target")
        print(f"  loaded in {time.perf_counter() - started:.1f} s")

        def measure(rounds: int) -> list[float]:
            from residency.store import Completion

            times = []
            now = t0 + 43_200  # half the targets are due
            for r in range(rounds):
                owner = f"bench/{r}"
                begin = time.perf_counter()
                claimed = store.claim_due(owner, now, 1000, 600)
                times.append((time.perf_counter() - begin) * 1000)
                store.complete_batch(
                    owner,
                    [Completion(t.id, now + 86_400, now, None) for t in claimed],
                    [],
                )
            return times

        indexed = measure(args.claim_rounds)
        print(
            f"  with next_due index      median {statistics.median(indexed):8.2f} ms"
            f"   p90 {sorted(indexed)[int(len(indexed) * 0.9)]:8.2f} ms"
        )
        with store.backend.transaction() as tx:
            tx.execute("DROP INDEX target_due")
        plain = measure(max(3, args.claim_rounds // 5))
        print(f"  baseline: no index       median {statistics.median(plain):8.2f} ms")
        with store.backend.transaction() as tx:
            tx.execute("CREATE INDEX target_due ON target (next_due)")
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--claim-targets", type=int, default=1_000_000)
    parser.add_argument("--claim-rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pg", action="store_true", help="Also run against PostgreSQL.")
    parser.add_argument(
        "--pg-workers", type=int, default=2, help="Monitor processes together on PostgreSQL."
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--workers-only", action="store_true", help="Only the PostgreSQL workers case (with --pg)."
    )
    parser.add_argument("--skip-claim", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="Per-worker figures on stderr.")
    parser.add_argument(
        "--worker-batch", type=int, default=1000, help="Batch size of each worker (CLI default)."
    )
    parser.add_argument("--rounds", type=int, default=3, help="Unchanged passes of the workers.")
    parser.add_argument(
        "--no-freeze", action="store_true", help="Workers without gc.freeze() (the baseline)."
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="residency-bench-monitor-"))
    if not args.skip_throughput and not args.workers_only:
        throughput(args, workdir, str(workdir / "history.sqlite3"))
    if not args.skip_claim:
        claim_bench(args, workdir, str(workdir / "claim.sqlite3"), "SQLite")
    if args.pg:
        from tests.integration.pg import start_postgres

        server = start_postgres(durable=True)
        try:
            if not args.skip_throughput and not args.workers_only:
                throughput(args, workdir / "pg", server.fresh_url())
            if not args.skip_throughput and args.pg_workers > 0:
                workers_bench(args, workdir, server.fresh_url())
            if not args.skip_claim:
                claim_bench(args, workdir, server.fresh_url(), "PostgreSQL")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
