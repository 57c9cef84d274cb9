"""Run the probes for many endpoints within the concurrency cap, rate and time box."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from residency.model import EndpointResult, ProbeResult
from residency.probe.controller import ControllerTable, controller_for
from residency.probe.http_edge import HttpEdgeProbe
from residency.probe.interface import Probe, ProbeSettings
from residency.probe.tls import TlsProbe
from residency.timefmt import utc_iso


class _Rate:
    """At most ``rate`` new connections per second to any one address (the politeness that
    matters to the audited service), shared by all workers; the concurrency cap bounds the
    total."""

    def __init__(self, rate: float) -> None:
        self.gap = 1.0 / rate
        self.next: dict[str, float] = {}
        self.lock = threading.Lock()

    def wait(self, ip: str) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next.get(ip, now))
            self.next[ip] = start + self.gap
        if start > now:
            time.sleep(start - now)


class Prober:
    def __init__(
        self,
        settings: ProbeSettings,
        table: ControllerTable | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.table = dict(table or {})
        self.clock = clock
        self.probes: list[Probe] = []
        self._http: HttpEdgeProbe | None = None
        if "tls" in settings.kinds:
            self.probes.append(TlsProbe(settings.timeout, settings.vantage))
        if "http" in settings.kinds:
            self._http = HttpEdgeProbe(
                settings.timeout,
                settings.max_header_bytes,
                settings.max_redirects,
                settings.vantage,
            )
            self.probes.append(self._http)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    @staticmethod
    def target(result: EndpointResult) -> str | None:
        """The one address probed: the endpoint's own first resolved or observed address."""
        if result.endpoint.is_ip:
            return None  # no name to present as SNI, so a certificate says nothing of it
        return result.facts[0].ip if result.facts else None

    def _one(self, result: EndpointResult, deadline: float, rate: _Rate) -> EndpointResult:
        ip = self.target(result)
        found: list[ProbeResult] = []
        if ip is not None:
            for probe in self.probes:
                if self.clock() >= deadline:
                    found.append(
                        ProbeResult(
                            probe.kind,
                            ip,
                            self.settings.port,
                            "skipped",
                            f"probe stage time box ({self.settings.total:g}s) used up",
                            utc_iso(),
                            self.settings.vantage,
                        )
                    )
                    continue
                rate.wait(ip)
                found.append(probe.run(result.endpoint.host, ip, self.settings.port))
        controller = controller_for(result.endpoint.host, found, self.table)
        return replace(result, probes=tuple(found), controller=controller)

    def probe_many(self, results: Sequence[EndpointResult]) -> list[EndpointResult]:
        """The same results, in order, each with its probes and controller."""
        deadline = self.clock() + self.settings.total
        rate = _Rate(self.settings.rate)
        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            return list(pool.map(lambda r: self._one(r, deadline, rate), results))
