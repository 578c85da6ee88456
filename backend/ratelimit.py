"""Token buckets: job creation per principal, login attempts per username and address.

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
MAX_KEYS = 10_000  # buckets kept before the full ones are dropped


class RateLimiter(Protocol):
    """What JobService needs: take one token for `key` or raise RateLimited."""

    async def check(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


class LocalRateLimiter:
    """A token bucket per key: `burst` tokens, refilled at `per_minute` (0 or less: off)."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        message: str = REFUSAL,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.clock = clock
        self.message = message
        self._buckets: dict[str, tuple[float, float]] = {}

    async def check(self, key: str) -> None:
        if self.rate <= 0:
            return
        now = self.clock()
        if len(self._buckets) >= MAX_KEYS:
            self._forget_full(now)
        tokens, stamp = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited(self.message, retry_after=(1.0 - tokens) / self.rate)
        self._buckets[key] = (tokens - 1.0, now)

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: they are what a new key gets anyway. Keys can
        be anyone's choice (login usernames), so their number must stay bounded."""
        self._buckets = {
            key: (tokens, stamp)
            for key, (tokens, stamp) in self._buckets.items()
            if tokens + (now - stamp) * self.rate < self.burst
        }

    async def aclose(self) -> None:
        """Nothing to release."""
