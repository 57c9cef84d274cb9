"""The reader interface every input format implements, and the result it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol

from residency.model import Endpoint, InputProblem


@dataclass(frozen=True)
class Targets:
    """What some inputs asked to audit: endpoints, bad entries, and notes on what was skipped."""

    endpoints: tuple[Endpoint, ...]
    problems: tuple[InputProblem, ...] = ()
    notes: tuple[str, ...] = ()  # informational: "12 HAR entries had no serverIPAddress"


@dataclass(frozen=True)
class ReadOptions:
    """Knobs some readers take; every field has a sensible default."""

    zone_origin: str | None = None  # origin for zone files without $ORIGIN / SOA owner
    dns_ports: tuple[int, ...] = (53,)  # ports whose traffic is read as DNS in captures
    max_requests_shown: int = 3  # how many HAR requests/capture flows to name per address
    max_flows: int = 65536  # bound on capture flows tracked at once (oldest are settled)
    apps: tuple[str, ...] = ()  # phone captures: only these apps (package name or UID)


class InputReader(Protocol):
    """One input format. ``read`` never raises for a bad entry: it reports an InputProblem.

    It raises ``InputError`` only when nothing at all can be read from the stream.
    """

    name: str
    description: str

    def read(self, stream: BinaryIO, origin: str, options: ReadOptions) -> Targets: ...
