"""Crawl throughput and memory: residency's crawl (Chromium behind the resolving proxy,
every request and initiator recorded) against Playwright's own HAR recording
(``record_har_path``) of the same crawl, in one run.

The site: 50 pages on www.example.com, each loading images from 20 third-party names
(t0..t19.example.net) and linking to the next pages; all names in a real Knot zone on
127.0.0.1. Both crawls visit the same 50 pages breadth first with the same Chromium and
flags. The baseline maps names to 127.0.0.1 with Chromium's host-resolver rules (no DNS
at all); residency resolves every name through its own resolver and Knot.

Memory is the peak proportional set size (PSS, so pages shared between Chromium's
processes count once) of this process plus every browser process it started, sampled
every 100 ms; the Knot server is left out. The HTTP site runs in this process's threads,
so it is in both figures alike.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from residency.endpoints.crawl.browser import CHROMIUM_ARGS, find_browser, playwright_module
from residency.endpoints.crawl.lookup import crawl_with_resolver
from residency.endpoints.crawl.record import CrawlSettings
from residency.resolve.engine import ChainResolver, ResolverSettings
from tests.integration.crawlsite import Site
from tests.integration.dnsserver import start_server, zone

PAGES = int(os.environ.get("BENCH_CRAWL_PAGES", "50"))
THIRD_PARTIES = 20
ROUNDS = int(os.environ.get("BENCH_CRAWL_ROUNDS", "2"))


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            if comm.startswith("knot"):
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = [root], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class PeakMemory:
    """Peak PSS of this process tree while the ``with`` block runs."""

    def __enter__(self) -> PeakMemory:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(_pss_kib(p) for p in _tree(os.getpid())))
            self._stop.wait(0.1)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def residency_crawl(site: Site, nameserver: str, browser: str) -> tuple[float, int, int]:
    settings = CrawlSettings(
        url=site.url("www.example.com", "/p/0"),
        pages=PAGES,
        depth=PAGES,
        settle=0.0,
        page_timeout=30,
        crawl_timeout=900,
        max_requests=100_000,
        browser=browser,
    )
    resolver = ChainResolver(ResolverSettings(nameservers=(nameserver,)))
    start = time.perf_counter()
    try:
        record = crawl_with_resolver(settings, resolver)
    finally:
        resolver.close()
    assert not record.problems, record.problems
    return time.perf_counter() - start, len(record.pages), len(record.requests)


def playwright_har_crawl(site: Site, browser: str, har: Path) -> tuple[float, int, int]:
    api = playwright_module()
    start = time.perf_counter()
    rules = "MAP *.example.com 127.0.0.1, MAP *.example.net 127.0.0.1"
    args = [a for a in CHROMIUM_ARGS if not a.startswith("--host-resolver-rules")]
    with api.sync_playwright() as playwright:  # type: ignore[attr-defined]
        chromium = playwright.chromium.launch(
            executable_path=browser,
            headless=True,
            args=[*args, f"--host-resolver-rules={rules}"],
            chromium_sandbox=False,
        )
        context = chromium.new_context(record_har_path=str(har), accept_downloads=False)
        queue = deque([site.url("www.example.com", "/p/0")])
        seen = set(queue)
        pages = 0
        while queue and pages < PAGES:
            page = context.new_page()
            page.goto(queue.popleft(), wait_until="load", timeout=30_000)
            pages += 1
            for link in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                if link not in seen:
                    seen.add(link)
                    queue.append(link)
            page.close()
        context.close()  # writes the HAR
        chromium.close()
    import json

    entries = len(json.loads(har.read_text())["log"]["entries"])
    return time.perf_counter() - start, pages, entries


def main() -> None:
    browser = find_browser(None)
    work = Path(tempfile.mkdtemp(prefix="residency-bench-crawl-"))
    names = "\n".join(f"t{n} A 127.0.0.1" for n in range(THIRD_PARTIES))
    dns = start_server(
        work / "knot", [zone("example.com", "www A 127.0.0.1"), zone("example.net", names)]
    )
    site = Site(pages=PAGES, third_parties=THIRD_PARTIES).start()
    results: dict[str, list[tuple[float, int, int, int]]] = {"residency": [], "playwright": []}
    try:
        for round_ in range(ROUNDS):
            for mode in (
                ("playwright", "residency") if round_ % 2 == 0 else ("residency", "playwright")
            ):
                with PeakMemory() as memory:
                    if mode == "residency":
                        seconds, pages, requests = residency_crawl(site, dns.address, browser)
                    else:
                        seconds, pages, requests = playwright_har_crawl(
                            site, browser, work / f"baseline-{round_}.har"
                        )
                results[mode].append((seconds, pages, requests, memory.peak))
                print(
                    f"round {round_ + 1} {mode:>10}: {pages} pages, {requests} requests in "
                    f"{seconds:.1f} s, peak PSS {memory.peak / 1024:.0f} MiB",
                    flush=True,
                )
    finally:
        site.stop()
        dns.stop()
    print()
    print(f"{'':>28} {'pages/min':>10} {'peak PSS MiB':>13}")
    summary = {}
    for mode, label in (
        ("playwright", "Playwright record_har_path"),
        ("residency", "residency crawl (proxy)"),
    ):
        rate = statistics.median(60 * p / s for s, p, _, _ in results[mode])
        peak = statistics.median(m for *_, m in results[mode]) / 1024
        summary[mode] = (rate, peak)
        print(f"{label:>28} {rate:>10.1f} {peak:>13.0f}")
    base_rate, base_peak = summary["playwright"]
    rate, peak = summary["residency"]
    print(
        f"{'residency / baseline':>28} {rate / base_rate:>10.2f} {peak / base_peak:>13.2f}"
        f"   (median of {ROUNDS} rounds, {PAGES} pages x {THIRD_PARTIES} third parties)"
    )


if __name__ == "__main__":
    main()
