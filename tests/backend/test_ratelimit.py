"""Job-creation rate limits: the same token bucket in memory and in Redis (shared by every
replica), failing open when Redis is unreachable."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from backend.errors import RateLimited
from backend.ratelimit import LocalRateLimiter, RateLimiter
from backend.redis_ratelimit import RedisRateLimiter
from tests.e2e.server import free_port

Make = Callable[[float, int], RateLimiter]


@pytest.fixture(params=["local", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    made: list[RateLimiter] = []
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    def build(per_minute: float, burst: int) -> RateLimiter:
        limiter: RateLimiter
        if request.param == "redis":
            limiter = RedisRateLimiter(url, per_minute, burst)
        else:
            limiter = LocalRateLimiter(per_minute, burst)
        made.append(limiter)
        return limiter

    yield build
    for limiter in made:
        await limiter.aclose()


async def outcomes(limiter: RateLimiter, key: str, times: int) -> list[float | None]:
    """None for each check that passed, the Retry-After of each refusal."""
    results: list[float | None] = []
    for _ in range(times):
        try:
            await limiter.check(key)
            results.append(None)
        except RateLimited as exc:
            results.append(exc.retry_after)
    return results


async def test_a_burst_then_refusal_with_a_retry_after(make: Make) -> None:
    limiter = make(6, 3)  # a token every 10 s
    results = await outcomes(limiter, "alice", 5)
    assert results[:3] == [None, None, None]
    assert all(wait is not None and 0 < wait <= 10 for wait in results[3:])


async def test_each_principal_has_its_own_bucket(make: Make) -> None:
    limiter = make(1, 2)
    assert await outcomes(limiter, "alice", 3) == [None, None, pytest.approx(60, abs=1)]
    assert (await outcomes(limiter, "bob", 3))[:2] == [None, None]


async def test_zero_per_minute_turns_the_limit_off(make: Make) -> None:
    limiter = make(0, 1)
    assert await outcomes(limiter, "alice", 50) == [None] * 50


async def test_tokens_come_back_at_the_rate() -> None:
    now = [1000.0]
    limiter = LocalRateLimiter(60, 2, clock=lambda: now[0])  # a token a second
    assert await outcomes(limiter, "alice", 3) == [None, None, pytest.approx(1.0)]
    now[0] += 0.5
    assert await outcomes(limiter, "alice", 1) == [pytest.approx(0.5)]
    now[0] += 0.5
    assert await outcomes(limiter, "alice", 2) == [None, pytest.approx(1.0)]


async def test_replicas_share_one_limit(redis_url: str) -> None:
    """2N creations spread over two replicas against a limit of N: exactly N pass."""
    limit = 10
    a = RedisRateLimiter(redis_url, 0.001, limit)  # practically no refill during the test
    b = RedisRateLimiter(redis_url, 0.001, limit)
    try:
        principal = f"carol-{uuid.uuid4().hex[:6]}"
        results = await asyncio.gather(
            *(outcomes(replica, principal, 1) for _ in range(limit) for replica in (a, b))
        )
        assert sum(r == [None] for r in results) == limit
    finally:
        await a.aclose()
        await b.aclose()


async def test_bucket_keys_expire(redis_url: str) -> None:
    import redis

    limiter = RedisRateLimiter(redis_url, 60, 5, prefix="genflow:test-ratelimit:")
    try:
        await limiter.check("dave")
    finally:
        await limiter.aclose()
    client = redis.Redis.from_url(redis_url)
    try:
        ttl = client.pttl("genflow:test-ratelimit:dave")
    finally:
        client.close()
    assert 0 < ttl <= 6000  # about one token's worth of refill, plus a margin


async def test_redis_unreachable_fails_open_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", 1, 1, timeout=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="backend.redis_ratelimit"):
            assert await outcomes(limiter, "erin", 5) == [None] * 5
    finally:
        await limiter.aclose()
    warnings = [r for r in caplog.records if r.name == "backend.redis_ratelimit"]
    assert len(warnings) == 1
    assert "not enforced" in warnings[0].getMessage()


async def test_refilled_buckets_are_dropped_so_many_keys_stay_bounded() -> None:
    """Login usernames are anyone's choice: memory must not grow with every new one."""
    from backend.ratelimit import MAX_KEYS

    now = [0.0]
    limiter = LocalRateLimiter(60, 2, clock=lambda: now[0])  # a token a second
    for i in range(MAX_KEYS - 1):
        await limiter.check(f"guess-{i}")
    now[0] = 1.5  # every guess's bucket is full again
    await limiter.check("alice")
    await limiter.check("alice")
    now[0] = 1.6
    with pytest.raises(RateLimited):  # the next check prunes, and alice stays empty
        await limiter.check("alice")
    assert len(limiter._buckets) == 1
