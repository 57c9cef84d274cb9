"""Resolution throughput and memory against a local Knot DNS, side by side with baselines.

Run: ``.venv/bin/python bench/resolve.py [--names 20000] [--scale 200000]``

Zone: 20,000 names, each a CNAME to one of 500 load-balancer names that carry A and
AAAA (so every name is A + AAAA + a chain step), plus a wildcard for the scale run.
Figures, all measured in this run against the same server:
- this engine (``ChainResolver.resolve_many``): names/s, with and without HTTPS hints;
- baseline: a straightforward loop over dnspython's async ``Resolver`` (A and AAAA);
- the end-to-end audit (resolve + locate + JSON written), with and without HTTPS hints;
- ceiling: ``dnsperf`` queries/s for the same server and query mix;
- memory: peak RSS of a child process streaming 20,000 vs 200,000 names.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dns.asyncresolver
import dns.exception

from residency.demo.knot import KnotServer, Zone, find_binary
from residency.resolve.engine import ChainResolver, ResolverSettings

LB_COUNT = 500


def bench_zone(count: int) -> Zone:
    lines = [
        "$TTL 300",
        "@ SOA ns hostmaster 1 3600 600 86400 60",
        "@ NS ns",
        "ns A 127.0.0.1",
    ]
    for k in range(LB_COUNT):
        lines.append(f"lb{k}.ap-south-1.elb A 10.{k // 250}.{k % 250}.{1 + k % 200}")
        lines.append(f"lb{k}.ap-south-1.elb AAAA 2001:db8:{k:x}::1")
    for i in range(count):
        lines.append(f"n{i} CNAME lb{i % LB_COUNT}.ap-south-1.elb")
    lines.append("*.wild CNAME lb1.ap-south-1.elb")
    return Zone(origin="bench.test", text="\n".join(lines) + "\n")


def names(count: int) -> Iterator[str]:
    return (f"n{i}.bench.test" for i in range(count))


def wild_names(count: int) -> Iterator[str]:
    return (f"x{i}.wild.bench.test" for i in range(count))


def run_engine(address: str, count: int, https_hints: bool) -> tuple[float, int]:
    resolver = ChainResolver(
        ResolverSettings(
            nameservers=(address,), timeout=5, https_hints=https_hints, concurrency=256
        )
    )
    start = time.perf_counter()
    resolved = 0
    for _, (resolution,) in resolver.resolve_many(names(count)):
        resolved += resolution.outcome == "resolved" and len(resolution.addresses) == 2
    return count / (time.perf_counter() - start), resolved


def run_naive(host: str, port: int, count: int) -> tuple[float, int]:
    """The straightforward way: dnspython's async Resolver, A and AAAA per name, 256 at a time."""
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = port
    resolver.lifetime = 5

    async def one(name: str, gate: asyncio.Semaphore) -> int:
        async with gate:
            found = 0
            for rdtype in ("A", "AAAA"):
                try:
                    answer = await resolver.resolve(name, rdtype)
                    found += len(answer)
                except dns.exception.DNSException:
                    pass
            return int(found == 2)

    async def main() -> int:
        gate = asyncio.Semaphore(256)
        done = 0
        batch: list[asyncio.Task[int]] = []
        for name in names(count):
            batch.append(asyncio.ensure_future(one(name, gate)))
            if len(batch) >= 2048:
                done += sum(await asyncio.gather(*batch))
                batch = []
        done += sum(await asyncio.gather(*batch))
        return done

    start = time.perf_counter()
    resolved = asyncio.run(main())
    return count / (time.perf_counter() - start), resolved


def run_audit(
    address: str, count: int, out: Path, https_hints: bool = True
) -> tuple[float, str] | None:
    """End to end through the lead's Auditor (resolve, locate, JSON written), if present."""
    try:
        from residency.audit.core import Auditor, paused_gc
        from residency.endpoints.normalise import normalise_host
        from residency.locate.locator import Locator
        from residency.report import OutputFormat, render
    except ImportError:
        return None
    try:
        locator = Locator.load()
    except Exception as err:  # no dataset on this machine: say so, do not fake it
        return 0.0, f"skipped: no dataset ({err})"
    resolver = ChainResolver(
        ResolverSettings(nameservers=(address,), timeout=5, https_hints=https_hints)
    )
    auditor = Auditor(resolver, locator)
    start = time.perf_counter()
    result = auditor.audit(normalise_host(n) for n in names(count))
    with paused_gc():  # as the CLI renders (residency.audit.run)
        out.write_text(render(result, OutputFormat.JSON), encoding="utf-8")
    return count / (time.perf_counter() - start), f"{len(result.endpoints)} endpoints"


def run_dnsperf(host: str, port: int, count: int, workdir: Path) -> str:
    dnsperf = find_binary("dnsperf")
    if dnsperf is None:
        return "dnsperf not installed"
    queries = workdir / "queries.txt"
    with queries.open("w") as fh:
        for i in range(count):
            fh.write(f"n{i}.bench.test A\nn{i}.bench.test AAAA\n")
    done = subprocess.run(
        [
            dnsperf,
            "-s",
            host,
            "-p",
            str(port),
            "-d",
            str(queries),
            "-l",
            "5",
            "-c",
            "8",
            "-q",
            "500",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if "Queries per second" in line:
            qps = float(line.split(":")[1])
            return (
                f"{qps:,.0f} queries/s = {qps / 2:,.0f} names/s (A+AAAA, server answers the chain)"
            )
    return "dnsperf failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]


def child_rss(address: str, count: int) -> str:
    """Peak RSS of a fresh process streaming ``count`` wildcard names through resolve_many."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[3]);"
        "from residency.resolve.engine import ChainResolver, ResolverSettings;"
        "r = ChainResolver(ResolverSettings(nameservers=(sys.argv[1],), timeout=5));"
        "n = int(sys.argv[2]);"
        "ok = sum(1 for _, (x,) in r.resolve_many(f'x{i}.wild.bench.test' for i in range(n))"
        " if x.outcome == 'resolved');"
        # VmHWM: this process's own peak (ru_maxrss would include the parent's, across exec)
        "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0];"
        "print(ok, hwm)"
    )
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run(
        [sys.executable, "-c", code, address, str(count), root],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{int(out[1]) / 1024:.1f} MiB peak RSS ({out[0]} of {count} resolved)"


def row(label: str, value: str) -> None:
    print(f"  {label:<32}{value}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=20_000)
    parser.add_argument("--scale", type=int, default=200_000)
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    if find_binary("knotd") is None:
        sys.exit("bench/resolve.py: knotd (Debian package 'knot') is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="residency-bench-"))
    print(f"local Knot DNS, {args.names:,} names (CNAME -> A + AAAA), {os.cpu_count()} cores")
    try:
        with KnotServer(workdir / "knot", [bench_zone(args.names)]) as server:
            address = server.address
            # Warm up: first queries pay for socket setup and the server's caches.
            run_engine(address, 500, https_hints=False)
            rate, ok = run_engine(address, args.names, https_hints=False)
            row("this engine (A+AAAA)", f"{rate:8,.0f} names/s  ({ok:,} fully resolved)")
            rate_h, ok_h = run_engine(address, args.names, https_hints=True)
            row("this engine (A+AAAA+HTTPS)", f"{rate_h:8,.0f} names/s  ({ok_h:,} fully resolved)")
            naive, ok_n = run_naive(server.host, server.port, args.names)
            row(
                "baseline: dnspython async loop",
                f"{naive:8,.0f} names/s  ({ok_n:,} fully resolved)",
            )
            row("speed-up over the baseline", f"{rate / naive:8.1f} x")
            for hints, label in ((False, "A+AAAA"), (True, "A+AAAA+HTTPS")):
                audit = run_audit(address, args.names, workdir / "audit.json", hints)
                if audit is None:
                    row("end-to-end audit", "(residency.audit not available)")
                    break
                if audit[0] == 0.0:
                    row("end-to-end audit", audit[1])
                    break
                row(f"end-to-end audit ({label})", f"{audit[0]:8,.0f} names/s  ({audit[1]}, JSON)")
            row("ceiling: dnsperf", run_dnsperf(server.host, server.port, args.names, workdir))
            if not args.skip_scale:
                small = min(args.names, args.scale)
                row(f"memory, {small:>9,} names", child_rss(address, small))
                row(f"memory, {args.scale:>9,} names", child_rss(address, args.scale))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
