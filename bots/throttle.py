"""A token bucket shared by every message edit, to stay under Slack's rate limits.

chat.update is a Tier 3 method (about 50 calls a minute per workspace); each job's
follower also waits `update_interval` between two edits of its own message and sends only
the latest state, so a busy job costs one edit per interval, not one per event. A 429
that still happens is retried by the Web API client after its Retry-After (slack.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


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


SEND_ATTEMPTS = 5  # per state; a message Slack keeps refusing is not retried forever


class Edits:
    """One message's edits by its follower: only a changed state is sent, through the
    shared budget, at most once per interval; a refused edit is tried again later, up
    to SEND_ATTEMPTS times for one state."""

    def __init__(self, limiter: RateLimiter, interval: float) -> None:
        self.limiter, self.interval = limiter, interval
        self.last_sent: Any = None
        self.last_at = float("-inf")
        self.failures = 0

    async def pace(self) -> None:
        """Wait out the rest of the interval since the last edit."""
        delay = self.last_at + self.interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def push(self, message: Any, send: Callable[..., Awaitable[bool]]) -> bool:
        """Send `message` if it differs from the last one sent; True: try again later."""
        if message == self.last_sent:
            return False
        await self.limiter.acquire()
        sent = await send(*message)
        self.last_at = time.monotonic()
        if sent or self.failures + 1 >= SEND_ATTEMPTS:
            self.last_sent, self.failures = message, 0
            return False
        self.failures += 1
        return True
