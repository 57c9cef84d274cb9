"""The world map: Natural Earth outlines from the generated table, one dot per placed address."""

from __future__ import annotations

import re

from residency.report.world_map import Dot, place, svg
from residency.world import world_outlines

PATHS = world_outlines().paths
WIDTH, HEIGHT = world_outlines().width, world_outlines().height


def test_the_outline_table_covers_the_countries_and_stays_small() -> None:
    assert len(PATHS) >= 170
    for code in ("US", "IN", "DE", "BR", "AU", "RU", "FJ", "TW", "XK"):
        assert code in PATHS, code
    assert sum(len(d) for d in PATHS.values()) < 150_000
    # Every path is plain relative SVG path data inside the map's box.
    for code, data in PATHS.items():
        assert re.fullmatch(r"(M-?\d+ -?\d+(l-?\d+ -?\d+)*z)+", data), code
        x, y = (int(v) for v in data[1:].split("l")[0].split())
        assert 0 <= x <= WIDTH + 1 and -1 <= y <= HEIGHT + 1, code


def test_a_dot_per_located_address_spread_when_they_share_a_place() -> None:
    dots = [
        Dot(label=f"192.0.2.{i}", country="DE", colour="#2e7d32", title="x", verdict="PASS")
        for i in range(3)
    ]
    dots.append(Dot(label="10.0.0.1", country=None, colour="#607d8b", title="private"))
    dots.append(Dot(label="198.51.100.1", country="ZZ", colour="#607d8b", title="bogus"))
    drawn, unplaced = svg(dots, {"DE": "#c8e6c9"})
    assert unplaced == 2  # no country, and a code with no centroid: not guessed onto the map
    circles = re.findall(r'<circle class="address"[^>]*cx="([\d.]+)" cy="([\d.]+)"', drawn)
    assert len(circles) == 3 and len(set(circles)) == 3  # three distinct, visible dots
    assert drawn.count('<path class="land"') == len(PATHS)
    assert 'data-country="DE" d="' in drawn and 'fill="#c8e6c9"' in drawn
    assert "<title>192.0.2.0: x</title>" in drawn


def test_coordinates_win_over_the_country_centroid() -> None:
    berlin = place(Dot(label="a", country="DE", colour="", title="", lat=52.5, lon=13.4))
    centre = place(Dot(label="a", country="DE", colour="", title=""))
    assert berlin == ((13.4 + 180) * 2, (85 - 52.5) * 2)
    assert centre is not None and centre != berlin
