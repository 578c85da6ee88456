"""The per-replica answer to "is this token live?" (backend/people/live.py): cached for
its seconds, one store read for many concurrent requests, and a revocation heard of is
final, even against a lookup that was in flight when it came."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from backend.domain import utcnow
from backend.people.live import LiveTokens
from backend.people.model import EXPIRED, LIVE, LOGIN, REVOKED, UNKNOWN, TokenRecord


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Store:
    """Token records by id; `gate` holds lookups until set."""

    def __init__(self) -> None:
        self.records: dict[str, TokenRecord] = {}
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()

    def add(self, token_id: str, *, ttl: timedelta = timedelta(hours=1)) -> None:
        now = utcnow()
        self.records[token_id] = TokenRecord(token_id, "alice", False, LOGIN, now, now + ttl)

    def revoke(self, token_id: str) -> None:
        record = self.records[token_id]
        self.records[token_id] = TokenRecord(**{**record.__dict__, "revoked_at": utcnow()})

    async def get_token(self, token_id: str) -> TokenRecord | None:
        self.reads += 1
        await self.gate.wait()
        return self.records.get(token_id)


async def test_live_is_trusted_for_its_seconds_then_asked_again() -> None:
    store, clock = Store(), Clock()
    store.add("t1")
    live = LiveTokens(store.get_token, seconds=2.0, clock=clock)
    assert [await live.state("t1") for _ in range(3)] == [LIVE] * 3
    assert store.reads == 1
    store.revoke("t1")  # elsewhere, unheard of
    clock.now = 1.9
    assert await live.state("t1") == LIVE
    clock.now = 2.1
    assert await live.state("t1") == REVOKED
    clock.now = 1e9
    assert await live.state("t1") == REVOKED and store.reads == 2  # final: never asked again


async def test_unknown_and_expired_tokens() -> None:
    store = Store()
    store.add("old", ttl=timedelta(seconds=-1))
    live = LiveTokens(store.get_token, seconds=2.0, clock=Clock())
    assert await live.state("never") == UNKNOWN
    assert await live.state("old") == EXPIRED


async def test_concurrent_requests_share_one_lookup() -> None:
    store = Store()
    store.add("t1")
    store.gate.clear()
    live = LiveTokens(store.get_token, seconds=2.0, clock=Clock())
    waiting = [asyncio.create_task(live.state("t1")) for _ in range(50)]
    await asyncio.sleep(0)
    store.gate.set()
    assert await asyncio.gather(*waiting) == [LIVE] * 50
    assert store.reads == 1


async def test_a_revocation_heard_during_a_lookup_wins() -> None:
    store = Store()
    store.add("t1")
    store.gate.clear()
    live = LiveTokens(store.get_token, seconds=60.0, clock=Clock())
    in_flight = asyncio.create_task(live.state("t1"))  # read "live" before the revocation
    await asyncio.sleep(0)
    live.revoked(["t1"])
    store.gate.set()
    assert await in_flight == REVOKED
    assert await live.state("t1") == REVOKED and store.reads == 1


async def test_after_a_reconnect_live_answers_are_asked_again() -> None:
    store = Store()
    store.add("t1")
    store.add("t2")
    live = LiveTokens(store.get_token, seconds=60.0, clock=Clock())
    await live.state("t1")
    live.revoked(["t2"])
    store.revoke("t1")
    live.forget_live()
    assert await live.state("t1") == REVOKED
    assert await live.state("t2") == REVOKED and store.reads == 2  # t2 was final already


async def test_a_failed_lookup_is_not_cached() -> None:
    calls = 0

    async def failing(token_id: str) -> TokenRecord | None:
        nonlocal calls
        calls += 1
        raise RuntimeError("database down")

    live = LiveTokens(failing, seconds=60.0, clock=Clock())
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await live.state("t1")
    assert calls == 2
