"""The job-creation token bucket shared by every replica, kept in Redis.

The same bucket as `LocalRateLimiter`, read and updated atomically by one Lua script per
check (so two replicas can never both spend the last token), timed by Redis's clock (so
replicas whose clocks differ agree). A bucket key expires once it would be full again:
an idle principal costs nothing. If Redis cannot be reached the check lets the job through
(fails open): a limit is a courtesy, not worth refusing work over.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from backend.errors import RateLimited
from backend.ratelimit import REFUSAL

log = logging.getLogger(__name__)

# KEYS[1]: the bucket (a hash: tokens, stamp); ARGV[1]: tokens per second; ARGV[2]: burst.
# Returns {1, "0"} when a token was taken, {0, seconds until one is there} otherwise
# (as a string: Redis would truncate a Lua number to an integer).
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(bucket[1]) or burst
local stamp = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'stamp', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
if allowed == 1 then
  return {1, '0'}
end
return {0, string.format('%.6f', (1 - tokens) / rate)}
"""


class RedisRateLimiter:
    """A token bucket per key in Redis: `burst` tokens, refilled at `per_minute`."""

    def __init__(
        self,
        url: str,
        per_minute: float,
        burst: int,
        *,
        prefix: str = "genflow:ratelimit:",
        timeout: float = 1.0,
        message: str = REFUSAL,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.prefix = prefix
        self.message = message
        # Short timeouts, one quick retry: a job's creation must not hang on Redis.
        self._redis = Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._script = self._redis.register_script(TOKEN_BUCKET)
        self._failing = False

    async def check(self, key: str) -> None:
        if self.rate <= 0:
            return
        try:
            allowed, wait = await self._script(
                keys=[self.prefix + key], args=[repr(self.rate), self.burst]
            )
        except (RedisError, OSError) as exc:
            if not self._failing:  # once per outage
                log.warning("rate limit not enforced: Redis failed (%s)", exc)
                self._failing = True
            return
        if self._failing:
            log.info("rate limit enforced again: Redis is back")
            self._failing = False
        if not allowed:
            raise RateLimited(self.message, retry_after=float(wait))

    async def aclose(self) -> None:
        await self._redis.aclose()
