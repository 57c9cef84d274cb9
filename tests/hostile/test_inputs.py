"""Hostile inputs through the real CLI: each fails on its own and the rest is audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.runner import run_cli

# IP literals need no DNS; an unreachable local resolver keeps any lookup off the network.
_OFFLINE = ("--nameserver", "127.0.0.1:9")


@pytest.fixture(autouse=True)
def _dataset(small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESIDENCY_DATA_DIR", str(small_dataset))


def _audit(tmp_path: Path, bad: Path) -> object:
    good = tmp_path / "good.txt"
    good.write_text("192.0.2.1\n")
    # the subprocess deadline is the hang guard; speed is measured in bench/, not here
    return run_cli("audit", *_OFFLINE, str(good), str(bad), timeout=90)


def _check(tmp_path: Path, bad: Path, mentions: str) -> None:
    run = _audit(tmp_path, bad)
    assert not run.traceback, run.stderr[-2000:]  # type: ignore[attr-defined]
    assert run.code != 0, run.stderr[-2000:]  # type: ignore[attr-defined]
    out = run.stdout + run.stderr  # type: ignore[attr-defined]
    assert mentions in out, out[-2000:]
    assert str(bad) in out
    assert "192.0.2.1" in run.stdout  # type: ignore[attr-defined]
    assert len(out) < 200_000  # a huge input line is never echoed whole


def test_huge_list_line(tmp_path: Path) -> None:
    bad = tmp_path / "huge.txt"
    with bad.open("wb") as out:
        out.write(b"192.0.2.2\n")
        for _ in range(200):  # 50 MB in one line, written in pieces
            out.write(b"x" * 250_000)
        out.write(b"\n192.0.2.3\n")
    _check(tmp_path, bad, "line longer than 4096 bytes")


def test_deep_har(tmp_path: Path) -> None:
    bad = tmp_path / "deep.har"
    bad.write_bytes(b'{"log":{"entries":[' + b"[" * 100_000 + b"]" * 100_000 + b"]}}")
    _check(tmp_path, bad, "nested more than")


def test_generate_bomb(tmp_path: Path) -> None:
    bad = tmp_path / "bomb.zone"
    bad.write_text("$ORIGIN ex.test.\n$TTL 300\n$GENERATE 1-100000000 h$ A 192.0.2.9\n")
    _check(tmp_path, bad, "per directive")


def test_unbalanced_zone(tmp_path: Path) -> None:
    bad = tmp_path / "open.zone"
    # No valid names here (they would need a resolver); the unit tests show the records
    # before the bad line are kept.
    bad.write_text("$ORIGIN ex.test.\n$TTL 300\nbad ( A 192.0.2.5\n")
    _check(tmp_path, bad, "never closed")
