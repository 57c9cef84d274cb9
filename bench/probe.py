"""Probe throughput beside the resolution stage of the same audit, on 127.0.0.1.

Run: ``.venv/bin/python bench/probe.py [--endpoints 1000]``

A local Knot zone maps N names to 127.0.0.1; a local TLS server (a certificate made here,
OV policy OID, O and C) answers each HTTP request with a cf-ray header. Figures:
- resolution stage: ``ChainResolver.resolve_many`` over the N names (s, names/s);
- probe stage: ``Prober.probe_many`` (tls + http) over the same N results, at the default
  concurrency (32) with the per-address rate lifted (all N names share one loopback address
  here, which a real audit does not), probes/s;
- the same with the default per-address rate (50/s), for a smaller N, to show that bound.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from residency.demo.knot import KnotServer, Zone, find_binary
from residency.model import Confidence, Endpoint, EndpointResult, IpFacts, Location
from residency.probe import Prober, ProbeSettings
from residency.resolve.engine import ChainResolver, ResolverSettings
from tests.probe.certs import OV, Authority, Pair
from tests.probe.servers import answer, tls_server


def _results(count: int) -> list[EndpointResult]:
    facts = IpFacts(ip="127.0.0.1", routable=False, location=Location(None, Confidence.NONE, "-"))
    return [
        EndpointResult(Endpoint(f"n{i}.bench.test", f"n{i}.bench.test"), (), (facts,))
        for i in range(count)
    ]


def _probe(count: int, port: int, rate: float, workers: int = 32) -> tuple[float, int]:
    settings = ProbeSettings(
        kinds=("tls", "http"), port=port, rate=rate, total=600, concurrency=workers
    )
    prober = Prober(settings)
    start = time.perf_counter()
    done = prober.probe_many(_results(count))
    elapsed = time.perf_counter() - start
    prober.close()
    ok = sum(1 for r in done for p in r.probes if p.outcome in ("ok", "cert-invalid"))
    return elapsed, ok


def _serve(pair: Pair, ports: multiprocessing.Queue[int], stop: EventType) -> None:
    with tls_server(pair, answer("200 OK", {"cf-ray": "8c1f2a3b4c5d6e7f-FRA"})) as port:
        ports.put(port)
        stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=1000)
    args = parser.parse_args()
    count = args.endpoints
    knot = find_binary("knotd")
    if knot is None:
        print("knotd not installed: skipped")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        lines = ["$TTL 300", "@ SOA ns hostmaster 1 3600 600 86400 60", "@ NS ns", "ns A 127.0.0.1"]
        lines += [f"n{i} A 127.0.0.1" for i in range(count)]
        zone = Zone(origin="bench.test", text="\n".join(lines) + "\n")
        (Path(tmp) / "knot").mkdir()
        server = KnotServer(Path(tmp) / "knot", [zone], binary=knot)
        server.start()
        try:
            resolver = ChainResolver(ResolverSettings(nameservers=(server.address,), timeout=2.0))
            start = time.perf_counter()
            resolved = list(
                resolver.resolve_many((f"n{i}.bench.test" for i in range(count)), (None,))
            )
            resolve_s = time.perf_counter() - start
            resolver.close()
        finally:
            server.stop()
        ca = Authority(Path(tmp))
        os.environ["SSL_CERT_FILE"] = str(ca.pem)
        pair = ca.leaf("leaf", ["*.bench.test"], org="Bench Ltd", country="GB", policy=OV)
        # The server runs in its own process so it does not share the prober's interpreter.
        ports: multiprocessing.Queue[int] = multiprocessing.Queue()
        stop = multiprocessing.Event()
        child = multiprocessing.Process(target=_serve, args=(pair, ports, stop), daemon=True)
        child.start()
        port = ports.get(timeout=10)
        try:
            probe_s, ok = _probe(count, port, rate=1e9)
            for workers in (1, 4):
                took, _ = _probe(count, port, rate=1e9, workers=workers)
                print(f"probe stage, concurrency {workers}: {2 * count / took:,.0f} probes/s")
            small = min(count, 100)
            polite_s, polite_ok = _probe(small, port, rate=50.0)
        finally:
            stop.set()
            child.join(5)
    print(
        f"resolution stage: {len(resolved)} names in {resolve_s:.2f} s "
        f"({len(resolved) / resolve_s:,.0f} names/s)"
    )
    print(
        f"probe stage (tls+http, concurrency 32): {2 * count} probes ({ok} ok) in {probe_s:.2f} s "
        f"({2 * count / probe_s:,.0f} probes/s, {count / probe_s:,.0f} endpoints/s)"
    )
    print(
        f"probe stage, default per-address rate 50/s, {small} endpoints on one address: "
        f"{2 * small} probes ({polite_ok} ok) in {polite_s:.2f} s"
    )
    print(f"probe/resolution time ratio: {probe_s / resolve_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
