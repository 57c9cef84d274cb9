"""BIND-format zone files: every owner name with A, AAAA or CNAME records."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import BinaryIO

import dns.exception
import dns.name
import dns.rdatatype
import dns.zone

from residency.endpoints.collect import EndpointCollector
from residency.endpoints.errors import InputUnreadable, InvalidEntry
from residency.endpoints.interface import ReadOptions, Targets
from residency.endpoints.normalise import canonical_name
from residency.endpoints.records import RecordGraph, chain_text
from residency.model import Endpoint, ObservedAddress

#: Give up skipping bad lines after this many; the rest of the file is then reported unread.
MAX_SYNTAX_ERRORS = 50
_LINE = re.compile(r"^<string>:(\d+):\s*")
_CONTEXT = "zone file"


def _parse(text: str, origin: str | None) -> dns.zone.Zone:
    return dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)


def _bad_line(lines: list[str], reported: int, origin: str | None) -> int:
    """Which line (1-based) really holds the error: dnspython often reports the next one."""
    header = [line for line in lines if line.lstrip().upper().startswith(("$ORIGIN", "$TTL"))]
    prefix = "\n".join(header or ["$TTL 3600"]) + "\n"
    for candidate in (reported - 1, reported):
        if 1 <= candidate <= len(lines):
            line = lines[candidate - 1]
            if not line.strip() or line.lstrip().startswith(";") or "(" in line or ")" in line:
                continue
            try:
                _parse(prefix + line + "\n", origin or ".")
            except dns.exception.DNSException:
                return candidate
    return min(max(reported, 1), len(lines))


def guess_origin(filename: str) -> str | None:
    """A zone origin from a conventional file name: ``db.example.com``, ``example.com.zone``."""
    stem = PurePath(filename).name
    for prefix in ("db.", "zone."):
        if stem.startswith(prefix):
            stem = stem[len(prefix) :]
    for suffix in (".zone", ".db", ".txt", ".signed"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    try:
        name = canonical_name(stem)
    except InvalidEntry:
        return None
    return name + "." if "." in name else None


def read_zone_text(text: str, origin: str, options: ReadOptions) -> Targets:
    """Targets from zone file text; syntax errors become problems with their line numbers."""
    collector = EndpointCollector()
    lines = text.splitlines()
    zone_origin = options.zone_origin
    zone: dns.zone.Zone | None = None
    errors = 0
    added_ttl = False
    while zone is None:
        try:
            zone = _parse("\n".join(lines) + "\n", zone_origin)
        except dns.zone.UnknownOrigin:
            guessed = guess_origin(origin)
            if zone_origin is not None or guessed is None:
                raise InputUnreadable(
                    f"{origin}: zone origin unknown: the file has no $ORIGIN; "
                    "give the origin (e.g. --zone-origin example.com)"
                ) from None
            zone_origin = guessed
            collector.note(f"{origin}: no $ORIGIN; origin {guessed} taken from the file name")
        except dns.exception.SyntaxError as err:
            message = str(err)
            match = _LINE.match(message)
            if "Missing default TTL" in message and not added_ttl:
                # BIND would take the SOA minimum or refuse; a TTL does not change where
                # a name points, so read on with one rather than losing the file.
                lines.insert(0, "$TTL 3600")
                added_ttl = True
                collector.note(f"{origin}: no $TTL; read with a default TTL of 3600")
                continue
            if match is None or errors >= MAX_SYNTAX_ERRORS:
                if errors >= MAX_SYNTAX_ERRORS:
                    message = f"more than {MAX_SYNTAX_ERRORS} syntax errors; stopped reading"
                raise InputUnreadable(f"{origin}: {message}") from None
            reported = int(match[1])
            bad = _bad_line(lines, reported, zone_origin)
            shown = bad - 1 if added_ttl else bad
            collector.problem(
                lines[bad - 1].strip()[:80],
                f"{origin}:{shown}",
                "zone syntax error: " + message[match.end() :] + " (line skipped)",
            )
            lines[bad - 1] = ""
            errors += 1
        except dns.exception.DNSException as err:
            raise InputUnreadable(f"{origin}: not a readable zone file: {err}") from None

    graph = RecordGraph()
    wildcards = 0
    for name, node in sorted(zone.nodes.items()):
        owner = name.to_text(omit_final_dot=True).lower()
        for rdataset in node.rdatasets:
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            if rtype not in {"A", "AAAA", "CNAME"}:
                continue
            if owner.startswith("*."):
                wildcards += 1
                break
            for rdata in rdataset:
                if rtype == "CNAME":
                    target = rdata.target.to_text(omit_final_dot=True).lower()
                    graph.add_cname(owner, target)
                else:
                    graph.add_address(owner, rdata.address, rtype)
    for owner in graph.order:
        where = f"{origin} {owner}"
        try:
            host = canonical_name(owner)
        except InvalidEntry as err:
            collector.problem(owner, origin, str(err))
            continue
        addresses, chain, problem = graph.follow(owner)
        if problem:
            collector.problem(owner, origin, f"{problem} inside the zone: {' -> '.join(chain)}")
        observed = tuple(
            ObservedAddress(ip=ip, context=chain_text(_CONTEXT, rtype, chain))
            for ip, rtype in addresses
        )
        collector.add(Endpoint(host=host, display=owner, origin=where, observed=observed))
    if wildcards:
        collector.note(f"{origin}: {wildcards} wildcard owner(s) skipped (no single name to audit)")
    return collector.targets()


class ZoneReader:
    """Zone files in BIND master-file format."""

    name = "zone"
    description = "BIND-format zone file: every owner with A, AAAA or CNAME"

    def read(self, stream: BinaryIO, origin: str, options: ReadOptions) -> Targets:
        data = stream.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputUnreadable(f"{origin}: zone file is not UTF-8 text ({err})") from None
        if options.zone_origin and not options.zone_origin.endswith("."):
            options = ReadOptions(
                zone_origin=options.zone_origin + ".",
                dns_ports=options.dns_ports,
                max_requests_shown=options.max_requests_shown,
                max_flows=options.max_flows,
            )
        return read_zone_text(text, origin, options)
