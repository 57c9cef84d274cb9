"""'policy groups' text: three lines per jurisdiction group."""

from __future__ import annotations

from residency.policy import Jurisdictions
from residency.policy.describe import groups_lines, groups_table


def test_three_lines_per_group() -> None:
    table = [
        {
            "name": "@NORDIC",
            "description": "Nordic countries",
            "source": "https://example.org/nordic",
            "as_of": "2026-01-01",
            "countries": ["DK", "FI", "IS", "NO", "SE"],
        }
    ]
    assert groups_lines(table) == [
        "@NORDIC: Nordic countries",
        "  5 countries: DK FI IS NO SE",
        "  source: https://example.org/nordic (as of 2026-01-01)",
    ]


def test_shipped_groups_all_render() -> None:
    table = groups_table(Jurisdictions.load())
    lines = groups_lines(table)
    assert len(lines) == 3 * len(table)
    assert "@EU: Member states of the European Union" in lines
