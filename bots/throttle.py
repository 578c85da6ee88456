"""A token bucket shared by every message edit, to stay under Slack's rate limits.

chat.update is a Tier 3 method (about 50 calls a minute per workspace); each job's
follower also waits `update_interval` between two edits of its own message and sends only
the latest state, so a busy job costs one edit per interval, not one per event. A 429
that still happens is retried by the Web API client after its Retry-After (slack.py).
"""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    def __init__(self, per_minute: float = 50.0, burst: int = 10) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more call fits in the budget, then spend it."""
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)
