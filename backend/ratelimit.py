"""Per-principal token buckets for job creation.

`LocalRateLimiter` keeps the buckets in memory, on purpose: a limit is a rate, not data;
losing them on restart only hands everyone a fresh burst. With several replicas each would
grant its own burst, so scale-out uses `RedisRateLimiter` (`redis_ratelimit.py`): the same
bucket, kept in Redis and shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from backend.errors import RateLimited

REFUSAL = "too many jobs created; slow down"


class RateLimiter(Protocol):
    """What JobService needs: take one token for `key` or raise RateLimited."""

    async def check(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


class LocalRateLimiter:
    """A token bucket per key: `burst` tokens, refilled at `per_minute` (0 or less: off)."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    async def check(self, key: str) -> None:
        if self.rate <= 0:
            return
        now = self.clock()
        tokens, stamp = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited(REFUSAL, retry_after=(1.0 - tokens) / self.rate)
        self._buckets[key] = (tokens - 1.0, now)

    async def aclose(self) -> None:
        """Nothing to release."""
