"""Durations and report periods, read in residency.timefmt: values, bounds and messages."""

from __future__ import annotations

import pytest

from residency.errors import UsageError
from residency.timefmt import LATEST, PeriodInvalid, parse_duration, parse_moment, parse_period

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("2D", 172800.0),
        ("1w", 604800.0),
        (7, 7.0),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "'soon' is not a duration (use e.g. 30s, 5m, 1h, 1d)"),
        ("0", "'0' is not a positive duration"),
        ("nan", "'nan' is not a positive duration"),
        ("40000d", "'40000d' is longer than 100 years"),
        (True, "True is not a duration"),
    ],
)
def test_bad_durations_say_why(text: str | bool, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


def test_moment_is_a_date_a_time_or_a_span_back_from_now() -> None:
    assert parse_moment("2023-11-14", "--since", NOW) == 1_699_920_000.0
    assert parse_moment("2023-11-14T22:13:20Z", "--since", NOW) == NOW
    assert parse_moment("2023-11-14T23:13:20+01:00", "--since", NOW) == NOW
    assert parse_moment("1d", "--since", NOW) == NOW - 86400.0
    assert parse_moment("9999-12-31T23:59:59Z", "--until", NOW) == LATEST


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "banana",
            "--since 'banana' is not a date (YYYY-MM-DD), a time (ISO 8601) or a span such as 30d",
        ),
        ("40000d", "--since '40000d': a span back from now must be at most 100 years"),
        ("0001-01-01", "--since '0001-01-01' is outside 1970-01-01 .. 9999-12-31"),
        ("x" * 100, "--since '" + "x" * 77 + "...' is not a date"),
    ],
)
def test_bad_moments_are_one_usage_error(text: str, message: str) -> None:
    with pytest.raises(PeriodInvalid) as caught:
        parse_moment(text, "--since", NOW)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, UsageError)


def _period_error(since: str, until: str | None) -> str:
    with pytest.raises(PeriodInvalid) as caught:
        parse_period(since, until, NOW)
    return str(caught.value)


def test_period_defaults_to_now_and_must_not_be_empty() -> None:
    assert parse_period("1h", None, NOW) == (NOW - 3600.0, NOW)
    assert parse_period("2023-11-01", "2023-11-02", NOW) == (1_698_796_800.0, 1_698_883_200.0)
    assert _period_error("2030-01-01", None) == (
        "report: no data in the period: --since 2030-01-01 is in the future"
    )
    assert _period_error("2023-11-02", "2023-11-01") == (
        "report: empty period: --until 2023-11-01 is not after --since 2023-11-02"
    )
    assert _period_error("2023-11-02", "nope").startswith("--until 'nope' is not a date")
