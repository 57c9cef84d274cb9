"""Probe throughput beside the resolution stage of the same audit, on 127.0.0.1.

Run: ``.venv/bin/python bench/probe.py [--endpoints 1000]``

A local Knot zone maps N names to 127.0.0.1; a local TLS server (a certificate made here,
OV policy OID, O and C) answers each HTTP request with a cf-ray header. The server is nginx
from Debian when installed (a real server: the figures are then the prober's, not a Python
test server's), else the Python test server (said in the output). Figures, in one run:
- resolution stage: ``ChainResolver.resolve_many`` over the N names (s, names/s);
- probe stage: ``Prober.probe_many`` (tls + http, the http request on the tls probe's
  connection) over the same N results at concurrency 1, 4 and the default 32, with the
  per-address rate lifted (all N names share one loopback address here, which a real audit
  does not), probes/s;
- baseline: the same probes on two connections per endpoint (a tls-only pass plus an
  http-only pass, which is what the prober did before the connection was shared);
- the default per-address rate (50/s), for a smaller N, to show that bound.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from residency.demo.knot import KnotServer, Zone, find_binary, free_port
from residency.model import Confidence, Endpoint, EndpointResult, IpFacts, Location
from residency.probe import Prober, ProbeSettings
from residency.resolve.engine import ChainResolver, ResolverSettings
from tests.probe.certs import OV, Authority, Pair
from tests.probe.servers import answer, tls_server

ROUNDS = 3


def _results(count: int) -> list[EndpointResult]:
    facts = IpFacts(ip="127.0.0.1", routable=False, location=Location(None, Confidence.NONE, "-"))
    return [
        EndpointResult(Endpoint(f"n{i}.bench.test", f"n{i}.bench.test"), (), (facts,))
        for i in range(count)
    ]


def _probe(
    count: int, port: int, rate: float, workers: int = 32, kinds: tuple[str, ...] = ("tls", "http")
) -> tuple[float, int]:
    settings = ProbeSettings(kinds=kinds, port=port, rate=rate, total=600, concurrency=workers)
    prober = Prober(settings)
    start = time.perf_counter()
    done = prober.probe_many(_results(count))
    elapsed = time.perf_counter() - start
    prober.close()
    ok = sum(1 for r in done for p in r.probes if p.outcome in ("ok", "cert-invalid"))
    return elapsed, ok


@contextlib.contextmanager
def _nginx(pair: Pair, workdir: Path) -> Iterator[int | None]:
    """nginx on 127.0.0.1 with the bench certificate, one worker; None when not installed."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        yield None
        return
    port = free_port()
    temp = workdir / "nginx"
    temp.mkdir()
    paths = " ".join(
        f"{kind}_temp_path {temp};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = temp / "nginx.conf"
    conf.write_text(
        f"worker_processes 1; daemon off; pid {temp}/nginx.pid; error_log {temp}/error.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; {paths}\n"
        f"  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {pair.cert};"
        f" ssl_certificate_key {pair.key};\n"
        "    location / { add_header cf-ray 8c1f2a3b4c5d6e7f-FRA always; return 200; } } }\n"
    )
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(temp)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


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
            resolve_s = float("inf")
            for _ in range(ROUNDS):
                resolver = ChainResolver(
                    ResolverSettings(nameservers=(server.address,), timeout=2.0)
                )
                start = time.perf_counter()
                resolved = list(
                    resolver.resolve_many((f"n{i}.bench.test" for i in range(count)), (None,))
                )
                resolve_s = min(resolve_s, time.perf_counter() - start)
                resolver.close()
        finally:
            server.stop()
        ca = Authority(Path(tmp))
        os.environ["SSL_CERT_FILE"] = str(ca.pem)
        pair = ca.leaf("leaf", ["*.bench.test"], org="Bench Ltd", country="GB", policy=OV)
        with contextlib.ExitStack() as stack:
            port = stack.enter_context(_nginx(pair, Path(tmp)))
            server = "nginx"
            if port is None:
                # The Python server runs in its own process so it does not share the prober's
                # interpreter.
                server = "Python test server (nginx not installed)"
                ports: multiprocessing.Queue[int] = multiprocessing.Queue()
                stop = multiprocessing.Event()
                child = multiprocessing.Process(
                    target=_serve, args=(pair, ports, stop), daemon=True
                )
                child.start()
                stack.callback(child.join, 5)
                stack.callback(stop.set)
                port = ports.get(timeout=10)
            print(f"TLS server: {server}; each figure the best of {ROUNDS} rounds")
            _probe(20, port, rate=1e9)  # warm-up: lazy imports (the airport table), caches
            probe_s, tls_s, http_s = float("inf"), float("inf"), float("inf")
            ok = 0
            for _ in range(ROUNDS):  # interleaved, so machine noise hits each alike
                took, ok = _probe(count, port, rate=1e9)
                probe_s = min(probe_s, took)
                tls_s = min(tls_s, _probe(count, port, rate=1e9, kinds=("tls",))[0])
                http_s = min(http_s, _probe(count, port, rate=1e9, kinds=("http",))[0])
            for workers in (1, 4):
                took = min(_probe(count, port, rate=1e9, workers=workers)[0] for _ in range(ROUNDS))
                print(f"probe stage, concurrency {workers}: {2 * count / took:,.0f} probes/s")
            small = min(count, 100)
            polite_s, polite_ok = _probe(small, port, rate=50.0)
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
    baseline_s = tls_s + http_s
    print(
        f"baseline, two connections per endpoint (tls pass {tls_s:.2f} s + http pass "
        f"{http_s:.2f} s): {baseline_s:.2f} s ({2 * count / baseline_s:,.0f} probes/s); "
        f"shared connection {baseline_s / probe_s:.2f}x faster"
    )
    print(f"probe/resolution time ratio: {probe_s / resolve_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
