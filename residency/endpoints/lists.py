"""Plain lists: one host, URL or address per line, with optional categories.

Syntax, one entry per line::

    # a comment (``#`` at the start of a line or after white space)
    api.example.com
    https://pay.example.com:8443/checkout   categories=payments,pii
    2001:db8::1                             category=logs

Blank lines are ignored. After the entry, ``categories=a,b`` (or ``category=``)
tags the endpoint with data categories that a policy can match.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import BinaryIO

from residency.endpoints.collect import EndpointCollector
from residency.endpoints.errors import InvalidEntry
from residency.endpoints.interface import ReadOptions, Targets
from residency.endpoints.lines import MAX_LINE, bounded_lines
from residency.endpoints.normalise import normalise_host
from residency.text import shorten

_COMMENT = re.compile(r"(^|\s)#.*$")
_CATEGORY = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_CATEGORY_KEYS = {"categories", "category", "cat"}


@lru_cache(maxsize=1024)
def parse_categories(value: str) -> tuple[str, ...]:
    """``"payments,PII"`` -> ``("payments", "pii")``; ``InvalidEntry`` on a bad name."""
    found: list[str] = []
    for part in value.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if not _CATEGORY.match(name):
            raise InvalidEntry(f"bad category name {shorten(part.strip())!r}")
        if name not in found:
            found.append(name)
    return tuple(found)


def read_list_lines(lines: list[str] | tuple[str, ...], origin: str) -> Targets:
    """Read list lines (already decoded) into Targets; line numbers start at 1."""
    collector = EndpointCollector()
    for number, line in enumerate(lines, start=1):
        add_list_line(collector, line, f"{origin}:{number}")
    return collector.targets()


def add_list_line(collector: EndpointCollector, line: str, where: str) -> None:
    """Parse one list line into ``collector`` (an endpoint or a problem)."""
    text = (_COMMENT.sub("", line) if "#" in line else line).strip()
    if not text:
        return
    entry, *options = text.split()
    categories: tuple[str, ...] = ()
    try:
        for option in options:
            key, sep, value = option.partition("=")
            if not sep or key.lower() not in _CATEGORY_KEYS:
                raise InvalidEntry(
                    f"unexpected {shorten(option)!r} after the entry (expected categories=a,b)"
                )
            categories += tuple(c for c in parse_categories(value) if c not in categories)
        endpoint = normalise_host(entry, origin=where, categories=categories)
    except InvalidEntry as err:
        collector.problem(entry, where, str(err))
        return
    collector.add(endpoint)


class ListReader:
    """Text lists of hosts/URLs/addresses, one per line."""

    name = "list"
    description = "one host name, URL or IP address per line; '#' comments; categories=a,b"

    def read(self, stream: BinaryIO, origin: str, options: ReadOptions) -> Targets:
        collector = EndpointCollector()
        for line in bounded_lines(stream):
            where = f"{origin}:{line.number}"
            if line.text is None:
                collector.problem(line.head, where, f"line longer than {MAX_LINE} bytes (skipped)")
                continue
            add_list_line(collector, line.text, where)
        return collector.targets()
