"""The /metrics listener under a burst: 1,000 clients connect at once and scrape, with a
connect and read budget each (2 s); how many got their answer. Beside it, the baseline:
prometheus_client's own ``start_http_server`` (listen backlog 5), which residency used
before. Also: does a client that never finishes its request keep its connection open?

    python bench/metrics_listener.py [--clients 1000]
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import start_http_server

from residency.monitor.metrics import MonitorMetrics
from residency.monitor.metrics_http import serve_metrics

BUDGET = 5.0
GET = b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"


def scrape(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=BUDGET) as sock:
            sock.sendall(GET)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            return data.startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def burst(port: int, clients: int) -> int:
    with ThreadPoolExecutor(clients) as pool:
        return sum(pool.map(scrape, [port] * clients))


def idle_cut(port: int, wait: float) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(b"GET /metrics HTTP/1.0\r\n")  # and never the end of the headers
        began = time.monotonic()
        try:
            sock.recv(1)
        except TimeoutError:
            return f"still open after {wait:.0f} s"
        return f"closed by the server after {time.monotonic() - began:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per scrape")
    args = parser.parse_args()
    global BUDGET
    BUDGET = args.budget
    registry = MonitorMetrics().registry
    (_, ours), stop = serve_metrics("127.0.0.1", 0, registry)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    server, _thread = start_http_server(free, addr="127.0.0.1", registry=registry)
    try:
        print(f"{args.clients} simultaneous scrapes, {BUDGET:g} s budget each")
        print(f"  residency listener  : {burst(ours, args.clients):5} answered")
        print(f"  baseline (backlog 5): {burst(free, args.clients):5} answered")
        print("a client that never ends its request line")
        print(f"  residency listener  : {idle_cut(ours, 30)}")
        print(f"  baseline            : {idle_cut(free, 30)}")
    finally:
        stop()
        server.shutdown()


if __name__ == "__main__":
    main()
