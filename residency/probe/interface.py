"""What every probe looks like, and the settings that bound them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from residency.errors import UsageError
from residency.model import ProbeResult

if TYPE_CHECKING:
    from residency.probe.rtt import ProbeOrigin

PROBE_KINDS = ("tls", "http", "rtt")
#: ``--probe rtt`` measures at most this many of one endpoint's addresses.
RTT_ADDRESSES_PER_ENDPOINT = 8


class ProbeError(UsageError):
    """A probe was asked for in a way that cannot be run (unknown kind, bad limit)."""


@dataclass(frozen=True)
class ConnectTo:
    """``--probe-connect-to HOST:PORT:ADDR:PORT`` (as curl's ``--connect-to``): probes of
    HOST on PORT connect to ADDR:PORT instead, still presenting HOST (SNI, Host header) and
    still recorded as the endpoint's own address. An empty HOST or PORT matches any; an IPv6
    ADDR goes in brackets. The demo uses it so that its real-world addresses are never
    contacted: every probe goes to its local TLS server."""

    host: str  # "" = any host
    port: int | None  # None = any port
    address: str
    to_port: int

    @classmethod
    def parse(cls, text: str) -> ConnectTo:
        bad = f"--probe-connect-to {text!r}: "
        head, sep, rest = text.partition(":")
        port_text, sep2, target = rest.partition(":")
        if not sep or not sep2:
            raise ProbeError(bad + "expected HOST:PORT:ADDRESS:PORT (HOST, PORT may be empty)")
        address, colon, to_port_text = target.rpartition(":")
        bracketed = address.startswith("[") or address.endswith("]")
        if bracketed:
            if not (address.startswith("[") and address.endswith("]") and len(address) > 2):
                raise ProbeError(bad + f"{address!r}: unbalanced brackets")
            address = address[1:-1]
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise ProbeError(bad + f"{address!r} is not an IP address") from None
        if parsed.version == 6 and not bracketed:
            raise ProbeError(bad + f"IPv6 address {address!r} must be in brackets: [{address}]")
        ports: list[int | None] = []
        for value, empty_ok in ((port_text, True), (to_port_text, False)):
            if not value and empty_ok:
                ports.append(None)
                continue
            # ASCII digits only: str.isdigit() also accepts "²" and "٤٤٣"
            digits = value.isascii() and value.isdigit()
            if not colon or not digits or not 0 < int(value) < 65536:
                raise ProbeError(bad + f"{value!r} is not a TCP port")
            ports.append(int(value))
        to_port = ports[1]
        assert to_port is not None
        return cls(head.strip().lower().rstrip("."), ports[0], address, to_port)

    def matches(self, host: str, port: int) -> bool:
        return (not self.host or self.host == host.lower().rstrip(".")) and (
            self.port is None or self.port == port
        )


@dataclass(frozen=True)
class ProbeSettings:
    """Bounds on how hard and how long the probes may touch the audited endpoints."""

    kinds: tuple[str, ...] = ()
    port: int = 443
    timeout: float = 3.0  # per probe: connect + handshake + response headers
    total: float = 120.0  # the whole probe stage; later probes become "skipped"
    concurrency: int = 32  # at most this many connections open at once
    rate: float = 50.0  # new connections per second to any one address
    max_header_bytes: int = 32 * 1024
    max_redirects: int = 5
    vantage: str = "local"
    origin: ProbeOrigin | None = None  # where the auditor runs (--from); rtt needs it
    connect_to: tuple[ConnectTo, ...] = ()  # the first that matches wins

    def target(self, host: str, ip: str) -> tuple[str, int]:
        """Where a probe of ``host`` at ``ip`` actually connects."""
        for mapping in self.connect_to:
            if mapping.matches(host, self.port):
                return mapping.address, mapping.to_port
        return ip, self.port

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in PROBE_KINDS]
        if unknown:
            raise ProbeError(
                f"--probe: unknown probe {', '.join(unknown)!s} (known: {', '.join(PROBE_KINDS)})"
            )
        if not 0 < self.port < 65536:
            raise ProbeError(f"--probe-port: {self.port} is not a TCP port")
        if self.timeout <= 0 or self.total <= 0 or self.concurrency < 1 or self.rate <= 0:
            raise ProbeError("probe limits must be positive")
        if "rtt" in self.kinds and self.connect_to:
            # A round trip to a stand-in address says nothing of where the endpoint is,
            # and rtt also times its own guard addresses: it cannot honour a redirect.
            raise ProbeError(
                "--probe rtt cannot be combined with --probe-connect-to: round-trip times"
                " to a stand-in address would be read as the endpoint's"
            )
        if "rtt" in self.kinds and self.origin is None:
            raise ProbeError(
                "--probe rtt: say where the auditor runs with --from CC or --from LAT,LON"
                " (or [probe] from = ... in the config file)"
            )

    @classmethod
    def parse(cls, text: str, **limits: object) -> ProbeSettings:
        kinds = tuple(dict.fromkeys(k.strip().lower() for k in text.split(",") if k.strip()))
        if not kinds:
            raise ProbeError("--probe: give at least one of " + ", ".join(PROBE_KINDS))
        return cls(kinds=kinds, **limits)  # type: ignore[arg-type]


class Probe(Protocol):
    """One kind of probe: contacts ``ip:port`` presenting ``host``; never raises."""

    kind: str

    def run(self, host: str, ip: str, port: int, until: float | None = None) -> ProbeResult:
        """``until``: the probe stage's end (``time.monotonic``); the probe ends by then."""
        ...
