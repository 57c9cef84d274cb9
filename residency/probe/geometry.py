"""Distances on the globe, and a lower bound on the distance to any point of a country.

A round-trip time bounds how far away a server can be, so refuting "the server is in
country X" needs the distance from the vantage to the *nearest* point of X: a centroid is
not sound (New York is 1,900 km from the US centroid). The nearest point is taken from
country outlines: Natural Earth 1:110m, the table the HTML map draws
(data/world/outlines.json, 0.5 degree grid, latitudes 85 to -60). Outline
edges are walked in steps of at most half a degree, and ``OUTLINE_MARGIN_KM`` is taken
off every distance for the grid rounding, the steps and the generalisation. A country
without an outline (too small for 1:110m) has no bound, so it is never refuted.
Known limit: 1:110m omits small islands; a claim of a country whose only nearby land
is such an island could be refuted wrongly. The margin covers islands within 150 km.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

#: Mean Earth radius (km).
EARTH_RADIUS_KM = 6371.0
#: Taken off every outline distance: 0.25 deg grid rounding (28 km), walking edges in
#: 0.5 deg steps (28 km), and the 1:110m generalisation; rounded up generously.
OUTLINE_MARGIN_KM = 150.0

Ring = list[tuple[float, float]]  # (lat, lon) vertices, closed implicitly

_TOKEN = re.compile(r"[Mlz]|-?\d+(?:\.\d+)?")
_SCALE, _TOP = 2.0, 85.0


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points in degrees."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _rings(path: str) -> list[Ring]:
    """SVG path data (``M x y l dx dy ... z``, pixels) -> rings of (lat, lon)."""
    rings: list[Ring] = []
    ring: Ring = []
    tokens = _TOKEN.findall(path)
    x = y = 0.0
    i, command = 0, ""
    while i < len(tokens):
        token = tokens[i]
        if token in ("M", "l", "z"):
            command = token
            i += 1
            if token == "z" and ring:
                rings.append(ring)
                ring = []
            continue
        dx, dy = float(tokens[i]), float(tokens[i + 1])
        i += 2
        if command == "M":
            if ring:
                rings.append(ring)
            x, y, ring = dx, dy, []
            command = "l"  # SVG: pairs after a moveto are linetos (relative here)
        else:
            x, y = x + dx, y + dy
        ring.append((_TOP - y / _SCALE, x / _SCALE - 180.0))
    if ring:
        rings.append(ring)
    return rings


@lru_cache(maxsize=1)
def _outlines() -> dict[str, list[Ring]]:
    from residency.world import world_outlines

    return {code: _rings(path) for code, path in world_outlines().paths.items() if len(code) == 2}


def _walked(ring: Ring, step: float = 0.5) -> list[tuple[float, float]]:
    """The ring's edges as points at most ``step`` degrees apart."""
    points: list[tuple[float, float]] = []
    for n, (lat1, lon1) in enumerate(ring):
        lat2, lon2 = ring[(n + 1) % len(ring)]
        parts = max(1, math.ceil(max(abs(lat2 - lat1), abs(lon2 - lon1)) / step))
        for k in range(parts):
            t = k / parts
            points.append((lat1 + (lat2 - lat1) * t, lon1 + (lon2 - lon1) * t))
    return points


@lru_cache(maxsize=512)
def outline_points(country: str) -> tuple[tuple[float, float], ...]:
    """Points along the country's outline, or () when no outline is known."""
    return tuple(p for ring in _outlines().get(country.upper(), ()) for p in _walked(ring))


def _inside(point: tuple[float, float], ring: Ring) -> bool:
    """Ray casting in (lon, lat): the outlines are equirectangular, so this is exact
    for the outline as drawn."""
    lat, lon = point
    inside = False
    for n, (lat1, lon1) in enumerate(ring):
        lat2, lon2 = ring[(n + 1) % len(ring)]
        if (lat1 > lat) != (lat2 > lat):
            cross = lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1)
            if lon < cross:
                inside = not inside
    return inside


def has_outline(country: str) -> bool:
    return bool(outline_points(country))


def nearest_km(point: tuple[float, float], country: str) -> float | None:
    """A lower bound on the distance from ``point`` to any point of ``country`` (0 when
    inside it), or None when the country has no outline."""
    points = outline_points(country)
    if not points:
        return None
    if any(_inside(point, ring) for ring in _outlines()[country.upper()]):
        return 0.0
    nearest = min(haversine_km(point, p) for p in points)
    return max(0.0, nearest - OUTLINE_MARGIN_KM)


@lru_cache(maxsize=4096)
def countries_apart_km(a: str, b: str) -> float | None:
    """A lower bound on the distance between any point of ``a`` and any of ``b``
    (0 for the same country or neighbours), or None when either has no outline."""
    if a.upper() == b.upper():
        return 0.0
    pa, pb = outline_points(a), outline_points(b)
    if not pa or not pb:
        return None
    import numpy as np

    lat1, lon1 = np.radians(np.array(pa)).T
    lat2, lon2 = np.radians(np.array(pb)).T
    best = math.inf
    for start in range(0, len(lat1), 256):  # bounded temporaries for the big countries
        la, lo = lat1[start : start + 256, None], lon1[start : start + 256, None]
        h = np.sin((lat2 - la) / 2) ** 2 + np.cos(la) * np.cos(lat2) * np.sin((lon2 - lo) / 2) ** 2
        best = min(best, float(h.min()))
    nearest = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(best)))
    return max(0.0, nearest - 2 * OUTLINE_MARGIN_KM)
