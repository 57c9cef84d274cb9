"""Saved ``dig`` output: answer lines (``name TTL IN A addr``) as recorded answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import BinaryIO

from residency.addresses import AddressError, parse_address
from residency.endpoints.collect import EndpointCollector
from residency.endpoints.errors import InputUnreadable, InvalidEntry
from residency.endpoints.interface import ReadOptions, Targets
from residency.endpoints.lines import read_bounded, too_big_message
from residency.endpoints.normalise import canonical_name
from residency.endpoints.records import RecordGraph, chain_text
from residency.model import Endpoint, ObservedAddress
from residency.timefmt import utc_iso

_ANSWER = re.compile(
    r"^(?P<owner>\S+)\s+(?:(?P<ttl>\d+)\s+)?(?:(?:IN|CH|HS)\s+)?"
    r"(?P<rtype>A|AAAA|CNAME)\s+(?P<value>\S+)\s*$",
    re.IGNORECASE,
)
_QUESTION = re.compile(r"^;(?P<owner>[^\s;]\S*)\s+(?:(?:IN|CH|HS)\s+)?[A-Z0-9]+\s*$", re.IGNORECASE)
_WHEN = re.compile(r"^;;\s*WHEN:\s*(?P<when>.+?)\s*$")
_CONTEXT = "dig answer"


def _when(text: str) -> str | None:
    """``Sat Nov 28 05:21:37 UTC 2026`` -> ISO-8601, when dig printed UTC; else the text."""
    for fmt in ("%a %b %d %H:%M:%S UTC %Y", "%a %b %d %H:%M:%S GMT %Y"):
        try:
            return utc_iso(datetime.strptime(text, fmt).replace(tzinfo=UTC))
        except ValueError:
            continue
    return text


def looks_like_dig(text: str) -> bool:
    return "<<>> DiG" in text or ";; ANSWER SECTION:" in text or ";; QUESTION SECTION:" in text


def read_dig_text(text: str, origin: str) -> Targets:
    """Targets from dig output: the questions (or chain heads) with their recorded answers."""
    collector = EndpointCollector()
    graph = RecordGraph()
    questions: list[str] = []
    when: str | None = None
    when_of: dict[str, str | None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        match = _WHEN.match(stripped)
        if match:
            when = _when(match["when"])
            for name in questions:
                when_of.setdefault(name, when)
            continue
        match = _QUESTION.match(stripped)
        if match:
            try:
                name = canonical_name(match["owner"])
            except InvalidEntry as err:
                collector.problem(match["owner"], f"{origin}:{number}", str(err))
                continue
            if name not in questions:
                questions.append(name)
            continue
        if stripped.startswith(";"):
            continue
        match = _ANSWER.match(stripped)
        if not match:
            continue  # other record types and dig's own chatter
        try:
            owner = canonical_name(match["owner"])
            rtype = match["rtype"].upper()
            if rtype == "CNAME":
                graph.add_cname(owner, canonical_name(match["value"]))
            else:
                ip = parse_address(match["value"])
                if (ip.version == 4) != (rtype == "A"):
                    raise InvalidEntry(f"{rtype} record with a version {ip.version} address")
                graph.add_address(owner, ip.text, rtype)
        except (InvalidEntry, AddressError) as err:
            collector.problem(stripped[:80], f"{origin}:{number}", str(err))
    targets_set = set(graph.cnames.values())
    heads = questions or [owner for owner in graph.order if owner not in targets_set]
    for head in heads:
        addresses, chain, problem = graph.follow(head)
        if problem:
            collector.problem(head, origin, f"{problem} in the recorded answers")
        seen_when = when_of.get(head, when)
        collector.add(
            Endpoint(
                host=head,
                display=head,
                origin=origin,
                observed=tuple(
                    ObservedAddress(
                        ip=ip, when=seen_when, context=chain_text(_CONTEXT, rtype, chain)
                    )
                    for ip, rtype in addresses
                ),
            )
        )
    if not heads:
        collector.note(f"{origin}: no A, AAAA or CNAME answer lines found")
    return collector.targets()


class DigReader:
    """Text saved from ``dig`` (full output or just answer lines)."""

    name = "dig"
    description = "dig output; answer lines 'name TTL IN A addr' are recorded answers"

    def read(self, stream: BinaryIO, origin: str, options: ReadOptions) -> Targets:
        data = read_bounded(stream)
        if data is None:
            raise InputUnreadable(too_big_message(origin, "dig output"))
        text = data.decode("utf-8", errors="replace")
        return read_dig_text(text, origin)
