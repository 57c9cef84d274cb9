"""Streaming targets: a million-line list flows through without a million Endpoints in memory.

``iter_targets`` yields endpoints as it reads. Duplicates are merged inside a
window of recent hosts (categories and observations combined, as ``read_targets``
does); a duplicate that turns up after its host already left the window is
dropped if it adds nothing, and reported as an InputProblem if it carries
categories the audited endpoint did not have. Memory: the window plus 12 bytes per
distinct host (a 64-bit hash and a category-set id, in sorted arrays) to audit each once.
"""

from __future__ import annotations

import heapq
import sys
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from residency.endpoints.collect import EndpointCollector
from residency.endpoints.detect import detect_format, looks_like_path, sniff
from residency.endpoints.errors import InputError, InvalidEntry
from residency.endpoints.interface import ReadOptions, Targets
from residency.endpoints.lines import MAX_LINE, bounded_lines
from residency.endpoints.lists import add_list_line
from residency.endpoints.normalise import normalise_host
from residency.model import Endpoint, InputProblem

WINDOW = 10_000


class SentHosts:
    """The hosts already audited, with the categories each was audited with.

    A dict entry per host costs about 80 bytes, which is what made ``--format jsonl``
    grow by that much per name (issue 18). Here a host is its 64-bit ``hash`` (a
    collision, about 1 in 10^7 for a million hosts, only merges two hosts) and its
    categories an id into a table of the distinct category sets: 12 bytes a host in two
    sorted ``array``s, plus a dict of the latest ones, merged in when it fills.
    """

    MERGE_AT = 65_536

    def __init__(self) -> None:
        self._recent: dict[int, int] = {}  # hash -> category-set id, not merged yet
        self._hashes = array("q")  # sorted
        self._ids = array("I")  # aligned with _hashes
        self._sets: list[tuple[str, ...]] = [()]
        self._set_ids: dict[tuple[str, ...], int] = {(): 0}

    def __len__(self) -> int:
        return len(self._recent) + len(self._hashes)

    def add(self, host: str, categories: tuple[str, ...]) -> None:
        set_id = self._set_ids.get(categories)
        if set_id is None:
            set_id = self._set_ids[categories] = len(self._sets)
            self._sets.append(categories)
        self._recent[hash(host)] = set_id
        if len(self._recent) >= self.MERGE_AT:
            self._merge()

    def get(self, host: str) -> tuple[str, ...] | None:
        """The categories ``host`` was audited with, or None if it was not."""
        key = hash(host)
        set_id = self._recent.get(key)
        if set_id is None:
            at = bisect_left(self._hashes, key)
            if at < len(self._hashes) and self._hashes[at] == key:
                set_id = self._ids[at]
        return None if set_id is None else self._sets[set_id]

    def _merge(self) -> None:
        """Fold the recent hosts into the sorted arrays (one linear merge; the peak is
        the old arrays plus the new ones)."""
        batch = sorted(self._recent.items())
        self._recent.clear()
        hashes, ids = array("q"), array("I")
        for key, set_id in heapq.merge(zip(self._hashes, self._ids, strict=True), batch):
            hashes.append(key)
            ids.append(set_id)
        self._hashes, self._ids = hashes, ids


class _Deduplicator:
    def __init__(self, window: int) -> None:
        self.window: OrderedDict[str, Endpoint] = OrderedDict()
        self.sent = SentHosts()
        self.size = window

    def push(self, endpoint: Endpoint) -> Iterator[Endpoint | InputProblem]:
        known = self.window.get(endpoint.host)
        if known is not None:
            merger = EndpointCollector()
            merger.add(known)
            merger.add(endpoint)
            self.window[endpoint.host] = merger.targets().endpoints[0]
            return
        sent = self.sent.get(endpoint.host)
        if sent is not None:
            extra = tuple(c for c in endpoint.categories if c not in sent)
            if extra:
                yield InputProblem(
                    entry=endpoint.display,
                    origin=endpoint.origin,
                    problem=(
                        f"duplicate read too late to add categories {', '.join(extra)} "
                        "(put duplicates closer together, or use a smaller list)"
                    ),
                )
            return
        self.window[endpoint.host] = endpoint
        if len(self.window) > self.size:
            yield self._release()

    def _release(self) -> Endpoint:
        host, endpoint = self.window.popitem(last=False)
        self.sent.add(host, endpoint.categories)
        return endpoint

    def drain(self) -> Iterator[Endpoint]:
        while self.window:
            yield self._release()


def _stream_list(stream: BinaryIO, origin: str) -> Iterator[Endpoint | InputProblem]:
    for line in bounded_lines(stream):
        collector = EndpointCollector()
        where = f"{origin}:{line.number}"
        if line.text is None:
            collector.problem(line.head, where, f"line longer than {MAX_LINE} bytes (skipped)")
        else:
            add_list_line(collector, line.text, where)
        targets = collector.targets()
        yield from targets.problems
        yield from targets.endpoints


def _stream_file(
    stream: BinaryIO, origin: str, options: ReadOptions, notes: list[str] | None
) -> Iterator[Endpoint | InputProblem]:
    from residency.endpoints import read_stream

    head, buffered = sniff(stream)
    fmt = detect_format(head, origin)
    if fmt == "list":
        yield from _stream_list(buffered, origin)
        return
    targets: Targets = read_stream(buffered, origin, fmt, options)
    if notes is not None:
        notes.extend(targets.notes)
    yield from targets.problems
    yield from targets.endpoints


def iter_targets(
    args: Sequence[str],
    stdin: BinaryIO | None = None,
    options: ReadOptions | None = None,
    notes: list[str] | None = None,
    window: int = WINDOW,
) -> Iterator[Endpoint | InputProblem]:
    """Like ``read_targets`` but streaming: yields Endpoints and InputProblems as read.

    Notes (what was skipped in a HAR, capture or zone) are appended to ``notes``.
    """
    options = options or ReadOptions()
    dedup = _Deduplicator(window)

    def sources() -> Iterator[Endpoint | InputProblem]:
        for arg in args:
            if arg == "-":
                try:
                    yield from _stream_file(stdin or sys.stdin.buffer, "stdin", options, notes)
                except InputError as err:
                    yield InputProblem(entry="-", origin="stdin", problem=str(err))
                continue
            path = arg[1:] if arg.startswith("@") else arg
            if arg.startswith("@") or looks_like_path(arg):
                try:
                    with open(path, "rb") as handle:
                        yield from _stream_file(handle, path, options, notes)
                except IsADirectoryError:
                    yield InputProblem(arg, "argv", f"{path}: is a directory, not a file")
                except FileNotFoundError:
                    yield InputProblem(arg, "argv", f"{path}: no such file")
                except OSError as err:
                    yield InputProblem(arg, "argv", f"{path}: cannot read ({err.strerror or err})")
                except InputError as err:
                    yield InputProblem(entry=arg, origin="argv", problem=str(err))
                continue
            try:
                yield normalise_host(arg, origin="argv")
            except InvalidEntry as err:
                yield InputProblem(entry=arg, origin="argv", problem=str(err))

    for item in sources():
        if isinstance(item, InputProblem):
            yield item
        else:
            yield from dedup.push(item)
    yield from dedup.drain()
