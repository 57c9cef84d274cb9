"""Run the probes for many endpoints within the concurrency cap, rate and time box."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol

from residency.model import EndpointResult, IpFacts, ProbeResult, Registrant
from residency.probe.controller import ControllerTable, controller_for
from residency.probe.http_edge import HttpEdgeProbe
from residency.probe.interface import RTT_ADDRESSES_PER_ENDPOINT, Probe, ProbeSettings
from residency.probe.multiplex import Handoff, Multiplexer, Steps, sleep_until
from residency.probe.rtt import RttProbe, apply_rtt
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

    def reserve(self, ip: str) -> float:
        """When (``time.monotonic``) the caller may open its connection to ``ip``."""
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next.get(ip, now))
            self.next[ip] = start + self.gap
        return start

    def wait(self, ip: str) -> None:
        start = self.reserve(ip)
        if start > time.monotonic():
            time.sleep(start - time.monotonic())


class RegistrantLookup(Protocol):
    """What the prober needs from residency.locate.registration.domain_rdap.DomainRdapLookup."""

    def lookup(self, host: str) -> Registrant: ...

    def close(self) -> None: ...


class Prober:
    def __init__(
        self,
        settings: ProbeSettings,
        table: ControllerTable | None = None,
        clock: Callable[[], float] = time.monotonic,
        registrants: RegistrantLookup | None = None,
    ) -> None:
        self.settings = settings
        self.table = dict(table or {})
        # --rdap: the domain registrant from the registry (not the audited endpoint).
        self.registrants = registrants
        self.clock = clock
        self.probes: list[Probe] = []
        self._http: HttpEdgeProbe | None = None
        self._tls: TlsProbe | None = None
        if "tls" in settings.kinds:
            self._tls = TlsProbe(settings.timeout, settings.vantage)
            self.probes.append(self._tls)
        if "http" in settings.kinds:
            self._http = HttpEdgeProbe(
                settings.timeout,
                settings.max_header_bytes,
                settings.max_redirects,
                settings.vantage,
            )
            self.probes.append(self._http)
        # rtt measures every address of the endpoint (not just the first), literals too
        self._rtt: RttProbe | None = None
        if "rtt" in settings.kinds:
            self._rtt = RttProbe(settings.timeout, settings.vantage)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        if self.registrants is not None:
            self.registrants.close()

    @staticmethod
    def target(result: EndpointResult) -> str | None:
        """The one address probed: the endpoint's own first resolved or observed address."""
        if result.endpoint.is_ip:
            return None  # no name to present as SNI, so a certificate says nothing of it
        return result.facts[0].ip if result.facts else None

    def _one(self, result: EndpointResult, deadline: float, rate: _Rate) -> EndpointResult:
        ip = self.target(result)
        found = [] if ip is None else self._connect(result.endpoint.host, ip, deadline, rate)
        return self._finish(result, deadline, rate, found)

    def _one_steps(
        self, result: EndpointResult, deadline: float, rate: _Rate
    ) -> Steps[EndpointResult | Handoff[EndpointResult]]:
        """``_one`` with both tls and http, as steps for the Multiplexer; what blocks (later
        requests, rtt, the registry) is handed to a worker thread."""
        ip = self.target(result)
        found: list[ProbeResult] | Callable[[], list[ProbeResult]] = []
        if ip is not None:
            found = yield from self._shared(result.endpoint.host, ip, deadline, rate)
        if callable(found) or self._rtt is not None or self.registrants is not None:
            rest = found

            def finish() -> EndpointResult:
                done = rest() if callable(rest) else rest
                return self._finish(result, deadline, rate, done)

            return Handoff(finish)
        return self._finish(result, deadline, rate, found)

    def _finish(
        self, result: EndpointResult, deadline: float, rate: _Rate, found: list[ProbeResult]
    ) -> EndpointResult:
        facts = result.facts
        if self._rtt is not None:
            facts = self._measure(result, deadline, rate, found)
        registrant = None
        if self.registrants is not None and not result.endpoint.is_ip:
            registrant = self.registrants.lookup(result.endpoint.host)
        controller = controller_for(result.endpoint.host, found, self.table, registrant)
        return replace(
            result,
            facts=facts,
            probes=tuple(found),
            controller=controller,
            registrant=registrant,
        )

    def _shared(
        self, host: str, ip: str, deadline: float, rate: _Rate
    ) -> Steps[list[ProbeResult] | Callable[[], list[ProbeResult]]]:
        """The tls and http probes of one address, the http probe's first request on the
        tls probe's connection: one handshake per endpoint, not two. Returns the results,
        or the blocking rest of the work (a second request, or the http probe on its own
        when no handshake completed)."""
        assert self._tls is not None and self._http is not None
        tls, http = self._tls, self._http
        address, port = self.settings.target(host, ip)  # --probe-connect-to may redirect
        if self.clock() >= deadline:
            return [self._skipped("tls", ip), self._skipped("http", ip)]
        yield from sleep_until(rate.reserve(address))
        certificate, connection = yield from tls.session_steps(host, address, port, deadline)
        seen = self._as_endpoint(certificate, ip, address, port)
        if connection is None:  # no handshake: the http probe finds out on its own

            def alone() -> list[ProbeResult]:
                rate.wait(address)
                alone = http.run(host, address, port, deadline)
                return [seen, self._as_endpoint(alone, ip, address, port)]

            return alone
        with connection:
            answer = yield from http.on_connection(host, address, port, connection, deadline)
        if isinstance(answer, ProbeResult):
            return [seen, self._as_endpoint(answer, ip, address, port)]
        when, state = answer

        def more() -> list[ProbeResult]:
            found = http.follow(host, address, port, when, state)
            return [seen, self._as_endpoint(found, ip, address, port)]

        return more

    def _connect(self, host: str, ip: str, deadline: float, rate: _Rate) -> list[ProbeResult]:
        """The probes of one address, one connection each (tls and http together go
        through ``_shared``)."""
        address, port = self.settings.target(host, ip)  # --probe-connect-to may redirect
        found: list[ProbeResult] = []
        for probe in self.probes:
            if self.clock() >= deadline:
                found.append(self._skipped(probe.kind, ip))
                continue
            rate.wait(address)
            seen = probe.run(host, address, port, deadline)
            found.append(self._as_endpoint(seen, ip, address, port))
        return found

    def _as_endpoint(self, seen: ProbeResult, ip: str, address: str, port: int) -> ProbeResult:
        """A probe sent to a --probe-connect-to stand-in is recorded as the endpoint's own
        address, with where it really went."""
        if (address, port) == (ip, self.settings.port):
            return seen
        literal = f"[{address}]" if ":" in address else address
        return replace(seen, ip=ip, port=self.settings.port, connected_to=f"{literal}:{port}")

    def _measure(
        self, result: EndpointResult, deadline: float, rate: _Rate, found: list[ProbeResult]
    ) -> tuple[IpFacts, ...]:
        """RTT to each routable address of the endpoint; a refuted place is dropped."""
        assert self._rtt is not None and self.settings.origin is not None
        out: list[IpFacts] = []
        measured = 0
        for facts in result.facts:
            if not facts.routable or measured >= RTT_ADDRESSES_PER_ENDPOINT:
                out.append(facts)
                continue
            measured += 1
            if self.clock() >= deadline:
                found.append(self._skipped("rtt", facts.ip))
                out.append(facts)
                continue
            rate.wait(facts.ip)
            probe = self._rtt.run(result.endpoint.host, facts.ip, self.settings.port, deadline)
            found.append(probe)
            if probe.rtt_ms is not None:
                facts = apply_rtt(facts, self.settings.origin, probe.rtt_ms)
            out.append(facts)
        return tuple(out)

    def _skipped(self, kind: str, ip: str) -> ProbeResult:
        return ProbeResult(
            kind,
            ip,
            self.settings.port,
            "skipped",
            f"probe stage time box ({self.settings.total:g}s) used up",
            utc_iso(),
            self.settings.vantage,
        )

    def probe_many(self, results: Sequence[EndpointResult]) -> list[EndpointResult]:
        """The same results, in order, each with its probes and controller."""
        deadline = self.clock() + self.settings.total
        rate = _Rate(self.settings.rate)
        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            if self._tls is not None and self._http is not None:
                # One thread drives every shared tls+http connection (non-blocking sockets);
                # the pool's threads only take what blocks.
                engine = Multiplexer(self.settings.concurrency, pool)
                return engine.run(
                    len(results), lambda i: self._one_steps(results[i], deadline, rate)
                )
            return list(pool.map(lambda r: self._one(r, deadline, rate), results))
