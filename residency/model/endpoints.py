"""What is audited: an endpoint, the addresses seen for it, and a bad input entry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObservedAddress:
    """An address an app was actually seen contacting (HAR, pcap, dig output)."""

    ip: str
    when: str | None = None  # ISO-8601 time of the observation, if recorded
    context: str = ""  # e.g. "HAR page_1 GET https://..." or "pcap tls sni"
    # Where a crawl saw it (empty otherwise): the page, the consent phase, first or third
    # party (by registrable domain) and what made the request (a script, the page parser).
    page: str = ""
    page_title: str = ""  # the page's <title>, as the page wrote it
    phase: str = ""
    party: str = ""
    initiator: str = ""
    apps: tuple[str, ...] = ()  # the phone apps that made the connection (PCAPdroid)


@dataclass(frozen=True)
class Endpoint:
    """One thing to audit: a host name (ASCII/punycode, lower case, no trailing
    dot) or an IP literal, with what the input told us about it."""

    host: str
    display: str  # the original form, e.g. the Unicode IDN, for people
    origin: str = ""  # where it came from: "argv", "list.txt:12", "capture.har"
    categories: tuple[str, ...] = ()  # data categories it carries, e.g. ("payments",)
    observed: tuple[ObservedAddress, ...] = ()
    is_ip: bool = False


@dataclass(frozen=True)
class InputProblem:
    """A bad input entry: reported in one line, never stops the batch."""

    entry: str
    origin: str
    problem: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.entry!r}: {self.problem}"
