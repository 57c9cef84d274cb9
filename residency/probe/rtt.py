"""``--probe rtt``: round-trip times that can disprove a claimed location, never prove one.

Light in fibre covers about 200,000 km/s, so a TCP handshake answered in ``t`` ms came
from at most ``t * 100`` km away (there and back). A claimed country whose nearest point
is farther from the vantage than that (see ``geometry``; outline margins included) is
physically impossible: it is REFUTED. The user says where the auditor runs:

- ``--from LAT,LON``: a point; the bound is measured from it;
- ``--from CC``: a country; the bound is measured from the country's nearest point to the
  claim (the two outlines' closest approach), never from a centroid, which is not sound for
  a big country. A country without an outline (too small for the 1:110m table) needs
  LAT,LON.

The RTT is the minimum of several TCP connect times (443, else 80), to the endpoint's own
addresses only. A handshake answered by a middlebox nearer than the server (a proxy that
terminates TCP) would make the bound too tight: it is assumed that the address answers for
itself, and only completed handshakes count (a reset may come from a firewall).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from residency.model import (
    Confidence,
    Evidence,
    EvidenceKind,
    IpFacts,
    Location,
    Place,
    ProbeResult,
)
from residency.probe.geometry import countries_apart_km, has_outline, nearest_km
from residency.probe.interface import ProbeError
from residency.timefmt import utc_iso

#: km of distance per ms of round trip: 200,000 km/s one way, halved for the return.
KM_PER_MS = 100.0
#: TCP connects per port; the minimum is kept (queueing only ever adds time).
DEFAULT_TRIES = 3
RTT_PORTS = (443, 80)

_POINT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")
_COUNTRY = re.compile(r"^\s*([A-Za-z]{2})\s*$")


@dataclass(frozen=True)
class ProbeOrigin:
    """Where the auditor runs: a point (lat, lon) or a country (ISO alpha-2)."""

    text: str
    point: tuple[float, float] | None = None
    country: str | None = None

    @classmethod
    def parse(cls, text: str, what: str = "--from") -> ProbeOrigin:
        match = _POINT.match(text)
        if match:
            lat, lon = float(match.group(1)), float(match.group(2))
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ProbeError(f"{what} {text!r}: latitude or longitude out of range")
            return cls(text.strip(), point=(lat, lon))
        match = _COUNTRY.match(text)
        if match:
            code = match.group(1).upper()
            if not has_outline(code):
                raise ProbeError(
                    f"{what} {text!r}: no outline for that country (too small or unknown);"
                    " give LAT,LON"
                )
            return cls(code, country=code)
        raise ProbeError(f"{what} {text!r}: give a country code (DE) or LAT,LON (50.1,8.7)")

    def distance_to_country_km(self, country: str) -> float | None:
        """A lower bound on the distance from here to any point of ``country``."""
        if self.point is not None:
            return nearest_km(self.point, country)
        assert self.country is not None
        return countries_apart_km(self.country, country)


def origin_from_config(path: Path) -> ProbeOrigin | None:
    """``[probe] from = "DE"`` (or ``"50.1,8.7"``) in the config file, if set."""
    if not path.exists():
        return None
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ProbeError(f"{path}: cannot read [probe] from the config file: {err}") from err
    section = document.get("probe", {})
    value = section.get("from") if isinstance(section, dict) else None
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProbeError(f'{path}: [probe] from must be a string such as "DE" or "50.1,8.7"')
    return ProbeOrigin.parse(value, f"{path}: [probe] from")


def max_distance_km(rtt_ms: float) -> float:
    """How far away a server answering in ``rtt_ms`` can be, at most."""
    return rtt_ms * KM_PER_MS


@dataclass(frozen=True)
class Refutation:
    """Whether one claimed country is compatible with a measured RTT."""

    country: str
    refuted: bool
    apart_km: float | None  # lower bound on the distance; None: no outline, no bound
    limit_km: float

    def describe(self, origin: ProbeOrigin, rtt_ms: float) -> str:
        if self.apart_km is None:
            return f"{self.country} not checked: no outline for it"
        verb = "REFUTED" if self.refuted else "not refuted"
        return (
            f"{self.country} {verb} by RTT {rtt_ms:.1f} ms from {origin.text}: at least"
            f" {self.apart_km:,.0f} km away, the RTT allows {self.limit_km:,.0f} km"
        )


def check_country(origin: ProbeOrigin, country: str, rtt_ms: float) -> Refutation:
    apart = origin.distance_to_country_km(country)
    limit = max_distance_km(rtt_ms)
    return Refutation(country, apart is not None and apart > limit, apart, limit)


def apply_rtt(facts: IpFacts, origin: ProbeOrigin, rtt_ms: float) -> IpFacts:
    """The facts with the RTT as evidence; a refuted location is never kept: another
    claimed country the RTT allows wins (LOW confidence), else the place is unknown."""
    within = f"within {max_distance_km(rtt_ms):,.0f} km"
    note = f"min TCP connect {rtt_ms:.1f} ms from {origin.text}: {within}"
    evidence = Evidence(source="probe:rtt", kind=EvidenceKind.RTT, version="", note=note)
    claimed = facts.location.place
    if claimed is None:
        return replace(facts, evidence=(*facts.evidence, evidence))
    verdict = check_country(origin, claimed.country, rtt_ms)
    if not verdict.refuted:
        return replace(facts, evidence=(*facts.evidence, evidence))
    reason = verdict.describe(origin, rtt_ms)
    candidates: dict[str, Place] = {}
    for e in facts.evidence:
        if e.place is not None and e.place.country != claimed.country and not e.anycast:
            candidates.setdefault(e.place.country, e.place)
    survivors = {
        cc: place
        for cc, place in candidates.items()
        if not check_country(origin, cc, rtt_ms).refuted
    }
    if len(survivors) == 1:
        ((country, place),) = survivors.items()
        location = Location(
            place=place,
            confidence=Confidence.LOW,
            basis="rtt-survivor",
            why=f"{reason}; {country} is the only other claim the RTT allows"
            " (an RTT can disprove a place, never prove one)",
        )
    else:
        detail = (
            f"; claims the RTT still allows disagree: {', '.join(sorted(survivors))}"
            if survivors
            else "; no other claim is compatible"
        )
        location = Location(
            place=None,
            confidence=Confidence.NONE,
            basis="rtt-refuted",
            why=f"unknown, because {reason}{detail}",
        )
    return replace(
        facts,
        location=location,
        evidence=(*facts.evidence, replace(evidence, note=f"{note}; {reason}")),
        disagreements=(*facts.disagreements, reason),
    )


#: Documentation space (RFC 5737): never routed, so no real host ever answers a connect.
UNROUTED_CANARIES = ("192.0.2.1", "198.51.100.1")


def middlebox_answers(
    canaries: tuple[str, ...] = UNROUTED_CANARIES, port: int = 443, timeout: float = 0.5
) -> str | None:
    """Why connect times to public addresses would be a middlebox's, or ``None``.

    A transparent proxy or firewall that completes (or resets) TCP handshakes itself makes
    every round trip tiny, and a tiny round trip refutes true far-away places. A handshake
    answered for an address nobody holds proves such a box is in the path; silence or an
    ICMP unreachable is what a clean path gives.
    """
    for address in canaries:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            started = time.perf_counter()
            try:
                sock.connect((address, port))
            except ConnectionRefusedError:
                answered = "refused the connection"
            except OSError:
                continue  # timeout, unreachable: what an unrouted address should do
            else:
                answered = "accepted the connection"
            elapsed = (time.perf_counter() - started) * 1000.0
            return (
                f"a middlebox answers for unrouted {address}:{port} ({answered} in "
                f"{elapsed:.1f} ms), so connect times to public addresses would be its own"
            )
    return None


class RttProbe:
    """Minimum TCP connect time to ``ip`` over ``tries`` connects: port 443, else 80.

    Before the first public address is timed, ``guard`` checks the path once per probe
    (``middlebox_answers``); when it finds an intercepting box, public addresses get the
    outcome ``unusable`` and no bound. Private targets (lab networks) are not behind the
    Internet path's middleboxes and are timed without the check. The prober does not
    time addresses that are not routable (loopback, link-local, documentation space):
    such an address says nothing of where a service is."""

    kind = "rtt"

    def __init__(
        self,
        timeout: float,
        vantage: str = "local",
        tries: int = DEFAULT_TRIES,
        ports: tuple[int, ...] = RTT_PORTS,
        clock: Callable[[], float] = time.perf_counter,
        guard: Callable[[], str | None] | None = middlebox_answers,
    ) -> None:
        self.timeout = timeout
        self.vantage = vantage
        self.tries = tries
        self.ports = ports
        self._clock = clock
        self._guard = guard
        self._guard_lock = threading.Lock()
        self._guard_done = False
        self._intercepted: str | None = None

    def _interception(self, ip: str) -> str | None:
        if self._guard is None or not ipaddress.ip_address(ip).is_global:
            return None
        with self._guard_lock:
            if not self._guard_done:
                self._intercepted = self._guard()
                self._guard_done = True
        return self._intercepted

    def _connect_ms(self, ip: str, port: int, until: float | None = None) -> float:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        timeout = self.timeout
        if until is not None:
            timeout = min(timeout, until - time.monotonic())
            if timeout <= 0:
                raise TimeoutError("the probe stage's time box is used up")
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            started = self._clock()
            sock.connect((ip, port))
            return (self._clock() - started) * 1000.0

    def run(self, host: str, ip: str, port: int, until: float | None = None) -> ProbeResult:
        """``until``: the probe stage's end (``time.monotonic``); no connect runs past it."""
        when = utc_iso()
        intercepted = self._interception(ip)
        if intercepted is not None:
            reason = f"{intercepted}: no RTT bound"
            return ProbeResult(self.kind, ip, port, "unusable", reason, when, self.vantage)
        problems: list[str] = []
        for candidate in dict.fromkeys((port, *self.ports)):
            times: list[float] = []
            for _ in range(self.tries):
                try:
                    times.append(self._connect_ms(ip, candidate, until))
                except ConnectionRefusedError:
                    problems.append(f"{candidate}: refused")
                    break
                except TimeoutError:
                    problems.append(f"{candidate}: no answer in {self.timeout:g}s")
                    break
                except OSError as err:
                    problems.append(f"{candidate}: {err.strerror or err}")
                    break
            if times:
                best = min(times)
                return ProbeResult(
                    self.kind,
                    ip,
                    candidate,
                    "ok",
                    f"min of {len(times)} TCP connects: {best:.1f} ms",
                    when,
                    self.vantage,
                    rtt_ms=best,
                )
        return ProbeResult(
            self.kind,
            ip,
            port,
            "unreachable",
            "no TCP handshake completed (" + "; ".join(problems) + "): no RTT bound",
            when,
            self.vantage,
        )
