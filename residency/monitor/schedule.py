"""When a watch target is checked next: its cadence, or the TTL of its answers."""

from __future__ import annotations

import random

from residency.model import EndpointResult
from residency.store import WatchTarget


def min_ttl(result: EndpointResult | None) -> int | None:
    """The smallest TTL anywhere in the answers: when the first of them expires."""
    if result is None:
        return None
    ttls = [s.ttl for r in result.resolutions for s in r.chain]
    ttls += [a.ttl for r in result.resolutions for a in r.addresses if a.ttl is not None]
    return min(ttls) if ttls else None


def next_check(
    target: WatchTarget, result: EndpointResult | None, now: float, rng: random.Random
) -> float:
    """When to look again: a fixed cadence, or the TTL kept within [min, max]; with jitter.

    A failed check (no result) comes back after the minimum interval.
    """
    if target.cadence:
        interval = target.cadence
    else:
        ttl = min_ttl(result)
        interval = target.min_interval if ttl is None else float(ttl)
        interval = min(max(interval, target.min_interval), target.max_interval)
    if target.jitter > 0:
        interval *= 1.0 + rng.uniform(-target.jitter, target.jitter)
    return now + max(1.0, interval)
