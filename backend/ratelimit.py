"""Per-principal token buckets for job creation.

Kept in memory on purpose: a limit is a rate, not data; losing the buckets on restart
only hands everyone a fresh burst.
"""

from __future__ import annotations

import time

from backend.errors import RateLimited


class RateLimiter:
    def __init__(self, per_minute: float, burst: int, clock=time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> None:
        if self.rate <= 0:
            return
        now = self.clock()
        tokens, stamp = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited(
                "too many jobs created; slow down", retry_after=(1.0 - tokens) / self.rate
            )
        self._buckets[key] = (tokens - 1.0, now)
