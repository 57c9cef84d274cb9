"""Build data/world/outlines.json: country outlines as compact SVG paths.

Source: Natural Earth 1:110m countries (public domain), as TopoJSON in the npm package
`world-atlas` (countries-110m.json), fetched with the registry's own client (`npm pack`).
The arcs are decoded (delta-encoded, quantised), projected equirectangular at the same scale
the HTML map uses (2 px per degree, latitude 85..-60), simplified (Douglas-Peucker) and written as
one SVG path per country, keyed by ISO 3166-1 alpha-2 (via pycountry) or the Natural Earth name.

Run: python scripts/build_world_map.py [--from countries-110m.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "data" / "world" / "outlines.json"
SCALE, TOP, BOTTOM = 2.0, 85.0, -60.0
TOLERANCE = 0.6  # px; below this the 1:110m detail is invisible at 720 px wide

# Natural Earth ids that pycountry does not know, or that have no numeric code.
EXTRA = {"-99": None, "010": "AQ"}
NAMED = {"Kosovo": "XK", "N. Cyprus": "CY-N", "Somaliland": "SO-N", "Taiwan": "TW"}


def fetch() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", "world-atlas", "--silent"],
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tgz = next(Path(tmp).glob("world-atlas-*.tgz"))
        with tarfile.open(tgz) as archive:
            member = archive.extractfile("package/countries-110m.json")
            assert member is not None
            data: dict[str, Any] = json.load(member)
            return data


def decode_arcs(topo: dict[str, Any]) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[tuple[float, float]]], indices: list[int]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for index in indices:
        points = arcs[index] if index >= 0 else arcs[~index][::-1]
        out.extend(points if not out else points[1:])
    return out


def simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
        best, index = 0.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            if length == 0:
                distance = ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            else:
                distance = abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length
            if distance > best:
                best, index = distance, i
        if best > tolerance and index > 0:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def project(lon: float, lat: float) -> tuple[float, float]:
    return (lon + 180) * SCALE, (TOP - lat) * SCALE


def path(rings: list[list[tuple[float, float]]]) -> str:
    parts = []
    for points in rings:
        flat = [project(lon, lat) for lon, lat in points]
        if max(x for x, _ in flat) - min(x for x, _ in flat) > 180 * SCALE:
            # A ring across the antimeridian (Fiji, Chukotka): keep it whole on the east edge,
            # the viewBox clips what overhangs, instead of a stripe across the whole map.
            flat = [(x + 360 * SCALE if x < 180 * SCALE else x, y) for x, y in flat]
        projected = simplify(flat, TOLERANCE)
        if len(projected) < 4:
            continue  # a speck smaller than a pixel
        coords = [(round(x), round(y)) for x, y in projected]
        text = f"M{coords[0][0]} {coords[0][1]}"
        px, py = coords[0]
        for x, y in coords[1:]:
            if (x, y) != (px, py):
                text += f"l{x - px} {y - py}"
                px, py = x, y
        parts.append(text + "z")
    return "".join(parts)


def code_for(geometry: dict[str, Any]) -> str:
    import pycountry

    name = str(geometry.get("properties", {}).get("name", ""))
    if name in NAMED:
        return NAMED[name]
    ident = str(geometry.get("id", "-99"))
    if EXTRA.get(ident):
        return str(EXTRA[ident])
    country = pycountry.countries.get(numeric=ident)
    if country is not None:
        return str(country.alpha_2)
    return name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a local countries-110m.json")
    args = parser.parse_args()
    topo = json.loads(args.source.read_text()) if args.source else fetch()
    arcs = decode_arcs(topo)
    table: dict[str, str] = {}
    for geometry in topo["objects"]["countries"]["geometries"]:
        if geometry["type"] == "Polygon":
            polygons = [geometry["arcs"]]
        elif geometry["type"] == "MultiPolygon":
            polygons = geometry["arcs"]
        else:
            continue
        code = code_for(geometry)
        if code == "AQ":
            continue  # below the map's southern edge (60 S)
        rings = [ring(arcs, r) for polygon in polygons for r in polygon]
        drawn = path(rings)
        if drawn:
            table[code] = table.get(code, "") + drawn
    doc = {
        "source": (
            "Natural Earth 1:110m countries (public domain), from the npm package world-atlas; "
            "generated by scripts/build_world_map.py, do not edit"
        ),
        "projection": (
            f"equirectangular, {SCALE:g} px per degree, latitude {TOP:g} at y=0 down to {BOTTOM:g}"
        ),
        "width": int(360 * SCALE),
        "height": int((TOP - BOTTOM) * SCALE),
        "paths": dict(sorted(table.items())),
    }
    OUT.write_text(json.dumps(doc, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{OUT.relative_to(REPO)}: {len(table)} countries, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
