"""Host patterns compiled once per loaded policy, and indexed.

A policy's host globs (rules, category assignments, waivers) are ``fnmatch`` patterns,
matched case-insensitively. Matching each pattern in turn costs one call per pattern per
host, and past 32,768 distinct patterns ``fnmatch``'s compile cache thrashes (40,001
rules took over 120 s for 100 names). Here each pattern is filed once:

- a literal name goes into a dict of exact names;
- ``*`` followed by a literal (``*.example.com``) into a dict of suffixes, looked up with
  every suffix of the host;
- a literal followed by ``*`` (``api.*``) into a dict of prefixes, likewise;
- anything else is compiled once to a regular expression, filed by its literal tail
  (``api-?.region*.example`` by ``.example``), tried only on hosts ending with it.

``matching(host)`` gives the positions of every pattern that matches, in file order, so
callers keep their precedence rules (most specific, then file order) unchanged.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

_SPECIAL = frozenset("*?[")


def _literal(text: str) -> bool:
    return not _SPECIAL.intersection(text)


def _literal_tail(pattern: str) -> str:
    """The literal end of a glob, after its last ``*`` or ``?``; none for a glob with a
    bracket expression (a ``*`` inside one is literal: not worth parsing here)."""
    if "[" in pattern:
        return ""
    return pattern[max(pattern.rfind("*"), pattern.rfind("?")) + 1 :]


class HostPatterns:
    """Glob patterns by position; which of them match a host name."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p.lower() for p in patterns)
        self._exact: dict[str, list[int]] = {}
        self._suffix: dict[str, list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        # other globs, filed by their literal tail (what follows the last wildcard): a
        # host can only match a glob whose tail it ends with
        self._other: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
        for position, pattern in enumerate(self.patterns):
            if _literal(pattern):
                self._exact.setdefault(pattern, []).append(position)
            elif pattern.startswith("*") and _literal(pattern[1:]):
                self._suffix.setdefault(pattern[1:], []).append(position)
            elif pattern.endswith("*") and _literal(pattern[:-1]):
                self._prefix.setdefault(pattern[:-1], []).append(position)
            else:
                tail = _literal_tail(pattern)
                compiled = re.compile(fnmatch.translate(pattern))
                self._other.setdefault(tail, []).append((position, compiled))
        self._suffix_lengths = sorted({len(s) for s in self._suffix})
        self._prefix_lengths = sorted({len(s) for s in self._prefix})
        self._tail_lengths = sorted({len(s) for s in self._other})

    def __len__(self) -> int:
        return len(self.patterns)

    def matching(self, host: str) -> list[int]:
        """Positions of the patterns matching ``host`` (case-insensitive), ascending."""
        name = host.lower()
        found: list[int] = list(self._exact.get(name, ()))
        size = len(name)
        for length in self._suffix_lengths:
            if length > size:
                break
            found.extend(self._suffix.get(name[size - length :], ()))
        for length in self._prefix_lengths:
            if length > size:
                break
            found.extend(self._prefix.get(name[:length], ()))
        for length in self._tail_lengths:
            if length > size:
                break
            for position, regex in self._other.get(name[size - length :], ()):
                if regex.match(name):
                    found.append(position)
        found.sort()
        return found

    def any_match(self, host: str) -> bool:
        return bool(self.matching(host))
