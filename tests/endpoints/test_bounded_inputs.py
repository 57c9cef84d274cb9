"""Issue 10: bounded zone directives, real zone errors, and bounded line lengths."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from residency.endpoints import InputUnreadable, read_input, read_stream, read_targets
from residency.endpoints.lines import MAX_LINE, bounded_lines, read_bounded
from residency.endpoints.zone import MAX_GENERATE
from residency.text import shorten


def _zone(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    targets = read_stream(io.BytesIO(text.encode()), "z.zone", "zone")
    return sorted(e.host for e in targets.endpoints), [
        (p.origin, p.problem) for p in targets.problems
    ]


def test_generate_bomb_is_refused_and_the_other_records_kept() -> None:
    hosts, problems = _zone(
        "$ORIGIN ex.test.\n$TTL 300\nwww A 192.0.2.1\n"
        "$GENERATE 1-100000000 h$ A 192.0.2.2\nmail A 192.0.2.3\n"
    )
    assert hosts == ["mail.ex.test", "www.ex.test"]
    assert problems[0][0] == "z.zone:4"
    assert f"at most {MAX_GENERATE}" in problems[0][1]


def test_small_generate_still_works() -> None:
    hosts, problems = _zone("$ORIGIN ex.test.\n$TTL 300\n$GENERATE 1-3 h$ A 192.0.2.$\n")
    assert hosts == ["h1.ex.test", "h2.ex.test", "h3.ex.test"]
    assert problems == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("bad ( A 192.0.2.2", "'(' is never closed"),
        ('bad TXT "abc', "unclosed '\"'"),
    ],
)
def test_unbalanced_zone_reports_its_line_and_keeps_earlier_records(
    line: str, expected: str
) -> None:
    hosts, problems = _zone(f"$ORIGIN ex.test.\n$TTL 300\nwww A 192.0.2.1\n{line}\n")
    assert hosts == ["www.ex.test"]
    assert problems == [("z.zone:4", problems[0][1])]
    assert expected in problems[0][1]
    assert "50 syntax errors" not in problems[0][1]


@pytest.mark.parametrize(
    ("directive", "expected"),
    [
        ("$ORIGIN ex..test.", "bad $ORIGIN"),
        ("$ORIGIN", "$ORIGIN without a name"),
        ("$ORIGIN ex.test", "is relative (no final dot)"),
    ],
)
def test_bad_origin_is_named_not_called_missing(directive: str, expected: str) -> None:
    hosts, problems = _zone(
        f"$ORIGIN ok.test.\n$TTL 300\nwww A 192.0.2.1\n{directive}\nx A 192.0.2.9\n"
    )
    if directive == "$ORIGIN ex.test":
        # After an absolute $ORIGIN a relative one is legal (appended, as BIND does).
        assert "x.ex.test.ok.test" in hosts
        hosts, problems = _zone(f"$TTL 300\n{directive}\nx A 192.0.2.9\n")
        assert problems[0][0] == "z.zone:2"
    else:
        assert hosts == ["www.ok.test"]
        assert problems[0][0] == "z.zone:4"
    assert expected in problems[0][1]
    assert "no $ORIGIN" not in problems[0][1]


def test_bounded_lines_rejects_a_long_line_without_holding_it() -> None:
    data = b"a.example\n" + b"x" * (MAX_LINE * 50) + b"\nb.example\n"
    lines = list(bounded_lines(io.BytesIO(data)))
    assert [(line.number, line.text) for line in lines] == [
        (1, "a.example"),
        (2, None),
        (3, "b.example"),
    ]
    assert len(lines[1].head) < 100


def test_list_line_too_long_is_one_short_problem() -> None:
    data = b"192.0.2.1\n" + b"y" * 1_000_000 + b"\n192.0.2.2\n"
    targets = read_stream(io.BytesIO(data), "l.txt", "list")
    assert [e.host for e in targets.endpoints] == ["192.0.2.1", "192.0.2.2"]
    (problem,) = targets.problems
    assert problem.origin == "l.txt:2"
    assert f"line longer than {MAX_LINE} bytes" in problem.problem
    assert len(problem.entry) <= 80


def test_shorten_marks_the_cut() -> None:
    assert shorten("abc") == "abc"
    cut = shorten("z" * 10_000, 80)
    assert len(cut) <= 80
    assert cut.endswith("(10000 chars)")


def test_deep_har_is_one_clear_error_not_a_recursion_error() -> None:
    from residency.endpoints import InputUnreadable

    data = b'{"log":{"entries":[{"request":' + b"[" * 100_000 + b"]" * 100_000 + b"}]}}"
    with pytest.raises(InputUnreadable, match="nested more than"):
        read_stream(io.BytesIO(data), "deep.har", "har")


def test_streamed_har_folds_repeated_hosts_and_late_pages() -> None:
    entry = (
        b'{"pageref":"p1","startedDateTime":"2024-01-01T00:00:00Z",'
        b'"request":{"method":"GET","url":"https://a.example/x"},"serverIPAddress":"192.0.2.7"}'
    )
    data = (
        b'{"log":{"version":"1.2","entries":['
        + b",".join([entry] * 500)
        + b'],"pages":[{"id":"p1","title":"Home"}]}}'
    )
    targets = read_stream(io.BytesIO(data), "a.har", "har")
    (endpoint,) = targets.endpoints
    (observed,) = endpoint.observed
    assert observed.ip == "192.0.2.7"
    assert "500 requests" in observed.context
    assert "p1 (Home)" in observed.context


@pytest.mark.parametrize(
    ("name", "text", "what"),
    [
        ("big.zone", "$ORIGIN ex.test.\n$TTL 300\n" + "www A 192.0.2.1\n" * 200, "zone file"),
        ("big.dig", "www.ex.test. 300 IN A 192.0.2.1\n" * 200, "dig output"),
    ],
)
def test_whole_file_readers_refuse_a_file_over_the_cap_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, what: str
) -> None:
    # Zone and dig readers need the whole text; past the cap they refuse, never read on.
    monkeypatch.setattr("residency.endpoints.lines.MAX_WHOLE_FILE", 1024)
    big = tmp_path / name
    big.write_text(text)
    small = tmp_path / "small.zone"
    small.write_text("$ORIGIN ok.test.\n$TTL 300\nwww A 192.0.2.9\n")
    fmt = "zone" if name.endswith(".zone") else "dig"
    with pytest.raises(InputUnreadable, match=f"{what} larger than 1,024 bytes"):
        read_input(big, fmt)
    targets = read_targets([str(big), str(small)])
    assert [e.host for e in targets.endpoints] == ["www.ok.test"]
    [problem] = targets.problems
    assert f"{what} larger than 1,024 bytes; split it" in problem.problem


def test_read_bounded_reads_at_most_one_byte_past_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("residency.endpoints.lines.MAX_WHOLE_FILE", 10)
    stream = io.BytesIO(b"x" * 1000)
    assert read_bounded(stream) is None
    assert stream.tell() == 11
    assert read_bounded(io.BytesIO(b"x" * 10)) == b"x" * 10
