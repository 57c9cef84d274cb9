"""A query-rate limit shared by all in-flight queries (``--qps``)."""

from __future__ import annotations

import asyncio


class RateLimiter:
    """Spaces queries ``1/qps`` apart on average, allowing a small burst.

    Each caller reserves the next free slot (a virtual schedule, as in GCRA), so waiters are
    served in order and the long-run rate never exceeds ``qps``.
    """

    def __init__(self, qps: float, burst: float | None = None) -> None:
        if qps <= 0:
            raise ValueError("qps must be positive")
        self.interval = 1.0 / qps
        self.burst_time = self.interval * max(1.0, burst if burst is not None else qps / 50)
        self._next: float | None = None

    async def acquire(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._next is None or self._next < now - self.burst_time:
            self._next = now - self.burst_time
        slot = self._next
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
