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
from residency.endpoints.lines import read_bounded, too_big_message
from residency.endpoints.normalise import canonical_name
from residency.endpoints.records import RecordGraph, chain_text
from residency.model import Endpoint, ObservedAddress
from residency.text import shorten

#: Give up skipping bad lines after this many; the rest of the file is then reported unread.
MAX_SYNTAX_ERRORS = 50
#: ``$GENERATE`` records one directive may make, and all directives of one file together:
#: a real zone generates a few /16s at most; ``$GENERATE 1-100000000`` is a memory bomb.
MAX_GENERATE = 65_536
MAX_GENERATED_PER_FILE = 1_000_000
_RANGE = re.compile(r"^(\d+)-(\d+)(?:/(\d+))?$")
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


def _open_group(lines: list[str]) -> tuple[int | None, list[int]]:
    """Where a ``(`` that is never closed opens, and the lines with an unclosed quote.

    dnspython reports these at the end of the file and the skip-a-line loop can
    then only fail 50 times; scanning here finds the line that really holds them.
    """
    depth_opened: int | None = None
    depth = 0
    bad_quotes: list[int] = []
    for number, line in enumerate(lines, start=1):
        quoted = False
        escaped = False
        for char in line:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif quoted:
                quoted = char != '"'
            elif char == '"':
                quoted = True
            elif char == ";":
                break
            elif char == "(":
                if depth == 0:
                    depth_opened = number
                depth += 1
            elif char == ")" and depth:
                depth -= 1
        if quoted:
            bad_quotes.append(number)
    return (depth_opened if depth else None), bad_quotes


def _directive_problem(
    line: str, origin_known: bool, generated: int
) -> tuple[str, bool, int] | None:
    """A problem with a ``$ORIGIN`` or ``$GENERATE`` line: (message, fatal, records made)."""
    words = line.split(";", 1)[0].split()
    if not words:
        return None
    keyword = words[0].upper()
    if keyword == "$ORIGIN":
        if len(words) < 2:
            return "$ORIGIN without a name", True, 0
        name = words[1]
        try:
            dns.name.from_text(name, origin=None)
        except dns.exception.DNSException as err:
            return f"bad $ORIGIN {shorten(name)!r}: {err}", True, 0
        if not name.endswith(".") and not origin_known:
            return (
                f"$ORIGIN {shorten(name)} is relative (no final dot) and there is no origin "
                f"to append it to; write {shorten(name)}. or give --zone-origin",
                True,
                0,
            )
    if keyword == "$GENERATE" and len(words) > 1:
        match = _RANGE.match(words[1])
        if match is None:
            return None
        start, stop, step = int(match[1]), int(match[2]), int(match[3] or 1)
        count = (stop - start) // step + 1 if stop >= start and step > 0 else 0
        if count > MAX_GENERATE:
            return (
                f"$GENERATE {shorten(words[1])} would make {count} records; at most "
                f"{MAX_GENERATE} per directive (directive skipped)",
                False,
                0,
            )
        if generated + count > MAX_GENERATED_PER_FILE:
            return (
                f"$GENERATE {shorten(words[1])}: more than {MAX_GENERATED_PER_FILE} generated "
                "records in this file (directive skipped)",
                False,
                0,
            )
        return "", False, count
    return None


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


def _prescan(
    lines: list[str], origin: str, origin_known: bool, collector: EndpointCollector
) -> list[str]:
    """Blank or cut the lines dnspython cannot report well, each with one problem."""
    opened, bad_quotes = _open_group(lines)
    for number in bad_quotes:
        if opened is None or number < opened:
            collector.problem(
                lines[number - 1].strip(), f"{origin}:{number}", "unclosed '\"' (line skipped)"
            )
            lines[number - 1] = ""
    if opened is not None:
        collector.problem(
            lines[opened - 1].strip(),
            f"{origin}:{opened}",
            f"'(' is never closed; line {opened} to the end not read",
        )
        lines = lines[: opened - 1]
    generated = 0
    known = origin_known
    for index, line in enumerate(lines):
        if not line.startswith("$"):
            continue
        found = _directive_problem(line, known, generated)
        if line.split()[0].upper() == "$ORIGIN" and found is None:
            known = True
        if found is None:
            continue
        message, fatal, count = found
        generated += count
        if not message:
            continue
        where = f"{origin}:{index + 1}"
        if fatal:
            collector.problem(
                line.strip(), where, f"{message}; line {index + 1} to the end not read"
            )
            return lines[:index]
        collector.problem(line.strip(), where, message)
        lines[index] = ""
    return lines


def read_zone_text(text: str, origin: str, options: ReadOptions) -> Targets:
    """Targets from zone file text; syntax errors become problems with their line numbers."""
    collector = EndpointCollector()
    lines = text.splitlines()
    zone_origin = options.zone_origin
    lines = _prescan(lines, origin, zone_origin is not None, collector)
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
            if match is None:
                raise InputUnreadable(f"{origin}: {shorten(message, 200)}") from None
            reported = int(match[1])
            bad = _bad_line(lines, reported, zone_origin)
            shown = bad - 1 if added_ttl else bad
            if errors >= MAX_SYNTAX_ERRORS:
                # Keep what parsed before; the rest is reported unread, not silently lost.
                collector.problem(
                    lines[bad - 1].strip(),
                    f"{origin}:{shown}",
                    f"more than {MAX_SYNTAX_ERRORS} syntax errors; "
                    f"line {shown} to the end not read",
                )
                lines = lines[: bad - 1]
                continue
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
        data = read_bounded(stream)
        if data is None:
            raise InputUnreadable(too_big_message(origin, "zone file"))
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
