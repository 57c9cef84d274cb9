"""The probe stage beside the resolution stage of the same audit, on 127.0.0.1.

Run: ``.venv/bin/python bench/probe.py [--endpoints 1000] [--before main]``

A local Knot zone maps N names to 127.0.0.1; a local TLS server (certificates made here,
OV policy OID, O and C) answers each HTTP request with a cf-ray header. The server is nginx
from Debian when installed (a real server: the figures are then the prober's, not a Python
test server's), else the Python test server (said in the output). The server and the client
share the machine's cores, so each arm reports wall time *and* the client process's own CPU
time (getrusage, user + system), and the server's CPU per endpoint beside it. In one run:
- resolution stage: ``ChainResolver.resolve_many`` over the N names, in this process;
- probe stage: ``Prober.probe_many`` (tls + http, the request on the tls connection) over
  the same N names at concurrency 32 and 1, each arm in a child process of its own, for
  this tree and, with ``--before REF``, for that git revision (same server, same run);
- floors with no residency code (bench/_probe_child.py): a bare ``ssl`` handshake + leaf
  read with ``cryptography`` + HEAD, one after another, and the same 32 at once,
  non-blocking in one thread;
- each of those with an ECDSA P-256 server certificate (what most large CDNs serve) and
  with an RSA-2048 one;
- cold start: a new process's first 32 endpoints (lazy imports, the airport table), as an
  audit run pays it;
- the default per-address rate (50/s), for a smaller N, to show that bound.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.backends.openssl.backend import backend

from bench.locate import export_tree
from residency.demo.knot import KnotServer, Zone, find_binary, free_port
from residency.model import Confidence, Endpoint, EndpointResult, IpFacts, Location
from residency.probe import Prober, ProbeSettings
from residency.resolve.engine import ChainResolver, ResolverSettings
from tests.probe.certs import OV, Authority, Pair
from tests.probe.servers import answer, tls_server

REPO = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "_probe_child.py"
ROUNDS = 5  # resolution stage rounds
# Each probe arm runs PASSES times, interleaved with the others (so a burst of load from
# elsewhere on the machine hits each arm alike), each pass a child of CHILD_ROUNDS rounds.
PASSES, CHILD_ROUNDS = 3, 2
# The OpenSSL cryptography bundles (pyOpenSSL runs on it), beside the system's under ssl.
BUNDLED = " ".join(backend.openssl_version_text().split()[:2])
# What real servers offer; nginx 1.22's own default is TLS 1.2 and older only (--tls12).
PROTOCOLS = "TLSv1.2 TLSv1.3"


def _results(count: int) -> list[EndpointResult]:
    facts = IpFacts(ip="127.0.0.1", routable=False, location=Location(None, Confidence.NONE, "-"))
    return [
        EndpointResult(Endpoint(f"n{i}.bench.test", f"n{i}.bench.test"), (), (facts,))
        for i in range(count)
    ]


def _probe(count: int, port: int, rate: float) -> tuple[float, int, set[str | None]]:
    settings = ProbeSettings(kinds=("tls", "http"), port=port, rate=rate, total=600)
    prober = Prober(settings)
    start = time.perf_counter()
    done = prober.probe_many(_results(count))
    elapsed = time.perf_counter() - start
    prober.close()
    ok = sum(1 for r in done for p in r.probes if p.outcome in ("ok", "cert-invalid"))
    return elapsed, ok, {p.tls_version for r in done for p in r.probes if p.kind == "tls"}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its children, from /proc."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(_tree_cpu(int(kid)) for kid in kids)


def _arm(
    tree: Path, arm: str, port: int, count: int, workers: int, server: int, rounds: int = 0
) -> Arm:
    """One child's figures; ``rounds`` 0: one cold round (no warm-up)."""
    before = _tree_cpu(server)
    out = subprocess.run(
        [
            sys.executable,
            str(CHILD),
            str(tree),
            arm,
            *map(str, (port, count, workers, CHILD_ROUNDS)),
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree), "RESIDENCY_PROJECT_DATA": str(tree / "data")},
    ).stdout
    figures = json.loads(out.splitlines()[-1])
    # The child runs a 20-endpoint warm-up and its rounds: the server's CPU is averaged.
    served = (_tree_cpu(server) - before) / ((20 + rounds * count) if rounds else count)
    return Arm(figures["wall"], figures["cpu"], figures["ok"], served)


@dataclass(frozen=True)
class Arm:
    wall: float  # best round, seconds
    cpu: float  # best round, the client process's CPU seconds
    ok: int  # endpoints with both probes ok (the worst round)
    server_cpu: float  # server CPU seconds per endpoint, averaged over all rounds

    def best(self, other: Arm) -> Arm:
        return Arm(
            min(self.wall, other.wall),
            min(self.cpu, other.cpu),
            min(self.ok, other.ok),
            (self.server_cpu + other.server_cpu) / 2,
        )


@contextlib.contextmanager
def _nginx(
    pair: Pair, workdir: Path, protocols: str = PROTOCOLS
) -> Iterator[tuple[int, int] | None]:
    """(port, pid) of nginx on 127.0.0.1 with the bench certificate, one worker; None when
    not installed."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        yield None
        return
    port = free_port()
    temp = workdir / "nginx"
    temp.mkdir(parents=True)
    paths = " ".join(
        f"{kind}_temp_path {temp};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = temp / "nginx.conf"
    conf.write_text(
        f"worker_processes 1; daemon off; pid {temp}/nginx.pid; error_log {temp}/error.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; {paths}\n"
        f"  server {{ listen 127.0.0.1:{port} ssl; ssl_protocols {protocols};"
        f" ssl_certificate {pair.cert};"
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
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def _serve(pair: Pair, ports: multiprocessing.Queue[int], stop: EventType) -> None:
    with tls_server(pair, answer("200 OK", {"cf-ray": "8c1f2a3b4c5d6e7f-FRA"})) as port:
        ports.put(port)
        stop.wait()


def _server(
    stack: contextlib.ExitStack, pair: Pair, workdir: Path, protocols: str = PROTOCOLS
) -> tuple[int, int, str]:
    """(port, pid, name) of the TLS server for ``pair``: nginx, else the Python one."""
    started = stack.enter_context(_nginx(pair, workdir, protocols))
    if started is not None:
        return (*started, "nginx (one worker)")
    # The Python server runs in its own process so it does not share the prober's interpreter.
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    stop = multiprocessing.Event()
    child = multiprocessing.Process(target=_serve, args=(pair, ports, stop), daemon=True)
    child.start()
    stack.callback(child.join, 5)
    stack.callback(stop.set)
    assert child.pid is not None
    return ports.get(timeout=10), child.pid, "Python test server (nginx not installed)"


def _resolve(count: int, tmp: Path, knot: str) -> tuple[float, float, int]:
    """Best wall and best CPU seconds of ROUNDS resolution stages over ``count`` names."""
    lines = ["$TTL 300", "@ SOA ns hostmaster 1 3600 600 86400 60", "@ NS ns", "ns A 127.0.0.1"]
    lines += [f"n{i} A 127.0.0.1" for i in range(count)]
    zone = Zone(origin="bench.test", text="\n".join(lines) + "\n")
    (tmp / "knot").mkdir()
    server = KnotServer(tmp / "knot", [zone], binary=knot)
    server.start()
    wall, cpu, resolved = float("inf"), float("inf"), 0
    try:
        for _ in range(ROUNDS):
            resolver = ChainResolver(ResolverSettings(nameservers=(server.address,), timeout=2.0))
            start, used = time.perf_counter(), _cpu()
            resolved = len(
                list(resolver.resolve_many((f"n{i}.bench.test" for i in range(count)), (None,)))
            )
            wall, cpu = min(wall, time.perf_counter() - start), min(cpu, _cpu() - used)
            resolver.close()
    finally:
        server.stop()
    return wall, cpu, resolved


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--before", metavar="REF", help="Also measure this git revision.")
    parser.add_argument(
        "--tls12", action="store_true", help="nginx offers TLS 1.2 only (its 1.22 default)"
    )
    args = parser.parse_args()
    count = args.endpoints
    knot = find_binary("knotd")
    if knot is None:
        print("knotd not installed: skipped")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        resolve_s, resolve_cpu, resolved = _resolve(count, tmp, knot)
        trees = [("this tree", REPO)]
        if args.before:
            before = tmp / "before"
            before.mkdir()
            trees.append((args.before, export_tree(args.before, before)))
        ca = Authority(tmp)
        os.environ["SSL_CERT_FILE"] = str(ca.pem)
        print(
            f"resolution stage: {resolved} names, wall {resolve_s:.3f} s, client CPU "
            f"{resolve_cpu:.3f} s ({1000 * resolve_cpu / count:.3f} ms/name); best of {ROUNDS}"
        )
        header = (
            f"{'arm':<44} {'wall s':>7} {'ep/s':>6} {'CPU ms/ep':>9} {'server':>7}"
            f" {'wall ratio':>10} {'CPU ratio':>9}  ok"
        )
        for key_type, label in (("ecdsa", "ECDSA P-256"), ("rsa", "RSA-2048")):
            pair = ca.leaf(
                key_type,
                ["*.bench.test"],
                org="Bench Ltd",
                country="GB",
                policy=OV,
                key_type=key_type,
            )
            with contextlib.ExitStack() as stack:
                protocols = "TLSv1.2" if args.tls12 else PROTOCOLS
                port, pid, server = _server(stack, pair, tmp / key_type, protocols)
                versions = ", ".join(sorted(str(v) for v in _probe(5, port, 1e9)[2]))
                print(f"\n{label} server certificate; TLS server: {server}, {versions}")
                print(header)
                arms: list[tuple[str, Path, str, int]] = []
                for workers in (32, 1):
                    for name, tree in trees:  # before and after back to back
                        arms.append(
                            (
                                f"residency ({name}), concurrency {workers}",
                                tree,
                                "residency",
                                workers,
                            )
                        )
                arms.append(("floor: bare ssl+cryptography+HEAD, serial", REPO, "bare-blocking", 1))
                arms.append(
                    ("floor: the same, 32 at once in one thread", REPO, "bare-selector", 32)
                )
                arms.append((f"floor: serial, pyOpenSSL ({BUNDLED})", REPO, "bare-pyopenssl", 1))
                best: dict[str, Arm] = {}
                for _ in range(PASSES):
                    for title, tree, arm, workers in arms:
                        got = _arm(tree, arm, port, count, workers, pid, CHILD_ROUNDS)
                        best[title] = best[title].best(got) if title in best else got
                for title, got in best.items():
                    if got.ok < 0:
                        print(f"{title:<44} skipped: pyOpenSSL not installed")
                        continue
                    print(
                        f"{title:<44} {got.wall:>7.3f} {count / got.wall:>6,.0f}"
                        f" {1000 * got.cpu / count:>9.3f} {1000 * got.server_cpu:>7.3f}"
                        f" {got.wall / resolve_s:>10.2f} {got.cpu / resolve_cpu:>9.2f}"
                        f"  {got.ok}"
                    )
                if key_type == "ecdsa":
                    for name, tree in trees:
                        cold = min(_arm(tree, "residency", port, 32, 32, pid).cpu for _ in range(5))
                        print(
                            f"cold start ({name}): a new process's first 32 endpoints, "
                            f"client CPU {1000 * cold:.0f} ms (best of 5)"
                        )
                    small = min(count, 100)
                    polite_s, polite_ok, _ = _probe(small, port, rate=50.0)
    print(
        f"\nprobe stage, default per-address rate 50/s, {small} endpoints on one address: "
        f"{2 * small} probes ({polite_ok} ok) in {polite_s:.2f} s"
    )
    print(
        f"columns: wall = best of {PASSES * CHILD_ROUNDS} rounds; CPU ms/ep = the client process's"
        " own CPU; server = the TLS server's CPU ms/ep;\n"
        "ratios = probe arm / resolution stage (the issue's goal: <= 1)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
