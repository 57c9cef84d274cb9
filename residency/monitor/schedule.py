"""When a watch target is checked next: its cadence, or the TTL of its answers."""

from __future__ import annotations

import random

from residency.model import EndpointResult
from residency.store import WatchTarget


def min_ttl(result: EndpointResult | None) -> int | None:
    """The smallest TTL anywhere in the answers: when the first of them expires."""
    if result is None:
        return None
    ttls = [t for t in (r.min_ttl for r in result.resolutions) if t is not None]
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


def backoff_delay(attempt: int, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...) while the database is away:
    0.5 s doubling up to ``cap``, with jitter (50-100 %) so that workers knocked out by
    the same outage do not all come back in the same instant."""
    delay: float = min(cap, 0.5 * 2.0 ** min(attempt, 16))
    return delay * (0.5 + rng.random() / 2)
