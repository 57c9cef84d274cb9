"""The HTML reports' world map: Natural Earth country outlines with a dot per located address.

The outlines are the generated table data/world/outlines.json (scripts/build_world_map.py;
the rtt probe's distance bounds read it too). A dot
goes at the address's coordinates when they are known, otherwise at its country's centroid;
several dots in one place are spread on a small spiral so each stays visible and hoverable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from residency.textsafe import html as escape
from residency.world import country_centroids, world_outlines

SCALE, TOP, BOTTOM = 2.0, 85.0, -60.0


@dataclass(frozen=True)
class Dot:
    """One address to place: its country, optional coordinates, a colour and a hover text."""

    label: str
    country: str | None
    colour: str
    title: str
    verdict: str = ""
    lat: float | None = None
    lon: float | None = None


def place(dot: Dot) -> tuple[float, float] | None:
    """Pixel position of a dot, or None when neither coordinates nor a known country exist."""
    if dot.lat is not None and dot.lon is not None:
        lat, lon = dot.lat, dot.lon
    elif dot.country and dot.country in country_centroids():
        lat, lon = country_centroids()[dot.country]
    else:
        return None
    lat = max(BOTTOM, min(TOP, lat))
    return (lon + 180) * SCALE, (TOP - lat) * SCALE


def svg(dots: Sequence[Dot], highlight: dict[str, str] | None = None) -> tuple[str, int]:
    """The map as inline SVG, and how many dots had no place (to say so under the map).

    `highlight` colours a country's outline (alpha-2 -> fill), e.g. by its worst verdict.
    """
    highlight = highlight or {}
    outlines = world_outlines()
    WIDTH, HEIGHT = outlines.width, outlines.height
    parts = [
        f'<svg id="map" xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0f}" '
        f'height="{HEIGHT:.0f}" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" role="img" '
        'aria-label="World map of the addresses, coloured by verdict">'
        f'<rect width="{WIDTH:.0f}" height="{HEIGHT:.0f}" fill="#eef4f8"/>'
    ]
    for code, data in outlines.paths.items():
        fill = highlight.get(code, "#d5dde3")
        parts.append(
            f'<path class="land" data-country="{escape(code)}" d="{data}" fill="{fill}" '
            f'stroke="#fff" stroke-width="0.5"><title>{escape(code)}</title></path>'
        )
    crowd: dict[tuple[float, float], int] = {}
    names: dict[tuple[float, float], str] = {}
    unplaced = 0
    for dot in dots:
        spot = place(dot)
        if spot is None:
            unplaced += 1
            continue
        n = crowd.get(spot, 0)
        crowd[spot] = n + 1
        names.setdefault(spot, dot.country or "")
        # Golden-angle spiral: the first dot sits exactly on the spot, the next ones around it.
        angle, reach = n * 2.39996, 3.2 * math.sqrt(n)
        x, y = spot[0] + reach * math.cos(angle), spot[1] + reach * math.sin(angle)
        parts.append(
            f'<circle class="address" data-country="{escape(dot.country or "")}" '
            f'data-verdict="{escape(dot.verdict)}" cx="{x:.1f}" cy="{y:.1f}" r="4.5" '
            f'fill="{dot.colour}" fill-opacity="0.9" stroke="#fff" stroke-width="0.8">'
            f"<title>{escape(dot.label)}: {escape(dot.title)}</title></circle>"
        )
    for (x, y), name in names.items():
        reach = 3.2 * math.sqrt(crowd[(x, y)] - 1) + 5
        parts.append(
            f'<text x="{x + reach:.1f}" y="{y + 4:.1f}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts), unplaced
