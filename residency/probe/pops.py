"""CDN edge headers -> (vendor, PoP code) -> place.

No vendor's own PoP table was available offline when this was written, so codes are mapped
through IATA airport data (the ``airportsdata`` package). Cloudflare, CloudFront and Fastly
name their PoPs after the nearest airport, which is why that works; it is a lookup, not
proof, and Fastly reuses codes, so the place is recorded with its basis.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from residency.model import Place

_CODE = re.compile(r"^[A-Z]{3}$")
_AZURE = re.compile(r"Ref B:\s*([A-Z]{3})", re.IGNORECASE)
_AKAMAI = re.compile(r"from\s+(\S+)")

IATA_BASIS = "IATA airport code (airportsdata)"


def edge_from_headers(headers: dict[str, str]) -> tuple[str | None, str | None, str]:
    """(cdn, pop code, note) from lower-cased response headers; (None, None, "") if none."""
    ray = headers.get("cf-ray")
    if ray and "-" in ray:
        return "cloudflare", ray.rsplit("-", 1)[1].strip().upper()[:3], f"cf-ray {ray}"
    pop = headers.get("x-amz-cf-pop")
    if pop:
        return "cloudfront", pop.strip()[:3].upper(), f"x-amz-cf-pop {pop}"
    served = headers.get("x-served-by")
    if served and "cache-" in served:
        # Shielding lists several caches; the last one is the edge that answered this client.
        last = served.split(",")[-1].strip()
        return "fastly", last.rsplit("-", 1)[-1].upper()[:3], f"x-served-by {served}"
    cache = headers.get("x-cache")
    if cache and "akamai" in cache.lower():
        host = _AKAMAI.search(cache)
        return "akamai", None, f"edge host {host.group(1) if host else cache}"
    for name in ("x-azure-ref", "x-msedge-ref"):
        ref = headers.get(name)
        if ref:
            code = _AZURE.search(ref)
            return "azure", code.group(1).upper() if code else None, f"{name} {ref}"
    return None, None, ""


_LOADING = threading.Lock()


def _airports() -> dict[str, dict[str, Any]]:
    # One load however many probe threads ask at once (an unlocked cache let each of the
    # first 32 parse the whole table).
    with _LOADING:
        return _load_airports()


@lru_cache(maxsize=1)
def _load_airports() -> dict[str, dict[str, Any]]:
    import airportsdata

    loaded: Any = airportsdata.load("IATA")
    return dict(loaded)


def place_of_pop(code: str | None) -> tuple[Place | None, str]:
    """The place a PoP code names, with the basis; (None, reason) if it names none."""
    if not code or not _CODE.match(code):
        return None, "no PoP code"
    airport = _airports().get(code)
    if airport is None:
        return None, f"{code} is not an IATA airport code"
    return Place(country=str(airport["country"]), city=str(airport["city"]) or None), IATA_BASIS
