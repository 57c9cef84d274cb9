"""Streaming targets: same endpoints as read_targets, without holding them all."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

from residency.endpoints import iter_targets, read_targets
from residency.model import Endpoint, InputProblem
from tests.support import FIXTURES


def _split(items: list[Endpoint | InputProblem]) -> tuple[list[Endpoint], list[InputProblem]]:
    return (
        [i for i in items if isinstance(i, Endpoint)],
        [i for i in items if isinstance(i, InputProblem)],
    )


def test_stream_gives_what_read_targets_gives() -> None:
    args = [str(FIXTURES / "endpoints" / "app-endpoints.txt"), "extra.example"]
    endpoints, problems = _split(list(iter_targets(args)))
    whole = read_targets(args)
    assert endpoints == list(whole.endpoints)
    assert problems == list(whole.problems)


def test_other_formats_stream_through_with_their_notes() -> None:
    notes: list[str] = []
    items = list(iter_targets([str(FIXTURES / "endpoints" / "firefox.har")], notes=notes))
    endpoints, _ = _split(items)
    assert [e.host for e in endpoints] == ["shop.example", "cdn.example", "ads.example"]
    assert any("not recorded" in n for n in notes)


def test_duplicates_beyond_the_window_are_dropped_or_reported() -> None:
    text = (
        b"a.example categories=pii\nb.example\nc.example\nd.example\n"
        b"a.example\n"  # beyond a window of 2: adds nothing, dropped
        b"b.example categories=payments\n"  # beyond: new category, reported
        b"d.example categories=logs\n"  # inside the window: merged
    )
    endpoints, problems = _split(list(iter_targets(["-"], stdin=io.BytesIO(text), window=2)))
    assert [(e.host, e.categories) for e in endpoints] == [
        ("a.example", ("pii",)),
        ("b.example", ()),
        ("c.example", ()),
        ("d.example", ("logs",)),
    ]
    assert [(p.origin, p.problem.split(" (")[0]) for p in problems] == [
        ("stdin:6", "duplicate read too late to add categories payments"),
    ]


N = 20_000


def test_a_large_list_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    with path.open("w") as handle:
        for i in range(N):
            handle.write(f"host{i}.example.com categories=pii\n")
    tracemalloc.start()
    try:
        count = sum(1 for item in iter_targets([str(path)], window=1000))
        _, streamed_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        whole = read_targets([str(path)])
        _, whole_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == len(whole.endpoints) == N
    # A hash per distinct host remains; the Endpoints themselves do not.
    assert streamed_peak < whole_peak / 3
    assert streamed_peak < 200 * N
