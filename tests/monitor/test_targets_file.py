"""Watch-target files (TOML or plain lists) and durations."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.monitor.targets import TargetFileInvalid, load_targets_file, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1.5h", 5400.0), ("2d", 172800.0), (60, 60.0)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "0", "5x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_toml_targets_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text("")
    path = tmp_path / "targets.toml"
    path.write_text(
        '[defaults]\npolicy = "policy.toml"\nmin_interval = "1m"\njitter = 0\n'
        '[[target]]\nhost = "API.example.com."\n'
        '[[target]]\nhost = "https://cdn.example.com/x"\ncadence = "1h"\nvantage = "de"\n'
    )
    first, second = load_targets_file(path)
    assert (first.host, first.min_interval, first.jitter, first.cadence) == (
        "api.example.com",
        60.0,
        0.0,
        None,
    )
    assert first.policy == str((tmp_path / "policy.toml").resolve())
    assert (second.host, second.cadence, second.vantage) == ("cdn.example.com", 3600.0, "DE")


def test_plain_list(tmp_path: Path) -> None:
    path = tmp_path / "targets.txt"
    path.write_text("# watched\napi.example.com\n\n192.0.2.7  # an address\n")
    assert [s.host for s in load_targets_file(path)] == ["api.example.com", "192.0.2.7"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("t.toml", "[[target]]\nport = 1\n", "target #1: needs a host"),
        ("t.toml", '[[target]]\nhost = "a.example"\ncolour = "red"\n', "unknown option(s) colour"),
        ("t.toml", "[[target]\n", "not valid TOML"),
        ("t.txt", "ok.example\nbad..example\n", "t.txt:2"),
    ],
)
def test_bad_files_name_the_place(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TargetFileInvalid) as err:
        load_targets_file(path)
    assert message in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TargetFileInvalid) as err:
        load_targets_file(tmp_path / "nope.txt")
    assert "cannot read" in str(err.value)
