"""The event bus contract, for LocalBus and RedisBus alike, then what only RedisBus does.

Two RedisBus instances on one Redis stand for two replicas; LocalBus plays both roles
itself. "Nothing more arrived" is shown without waiting: a marker published after the
events under test arrives after anything they could have caused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis as redis_sync

from backend.domain import Checkpoint, Job, JobStatus, utcnow
from backend.events import Event, EventType, NewEvent
from backend.ids import new_id
from backend.runtime.bus import CLOSED, LAGGED, EventBus, LocalBus, Subscription
from backend.runtime.follow import follow
from backend.runtime.redis_bus import RedisBus
from backend.store.base import JobUpdate
from backend.store.sqlalchemy import SQLStore
from tests.e2e.server import free_port
from tests.services import PrivateRedis

T = TypeVar("T")
FAST = {"poll_interval": 0.05, "min_backoff": 0.02, "max_backoff": 0.2, "ping_interval": 1.0}


async def eventually(check: Callable[[], Awaitable[T | None] | T | None], timeout: float = 10) -> T:
    """Poll `check` until it returns something true, or fail."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.01)


def event(job_id: str, seq: int | None, kind: EventType = EventType.NODE_PROGRESS) -> Event:
    data: dict[str, Any] = {"text": f"chunk {seq}"} if seq is None else {"n": seq}
    return Event(job_id, kind, data, utcnow(), 0, seq)


def delta(job_id: str, text: str) -> Event:
    return Event(job_id, EventType.LLM_DELTA, {"node": "write", "text": text}, utcnow(), 0)


def marker(job_id: str) -> Event:
    return Event(job_id, EventType.NODE_PROGRESS, {"marker": True}, utcnow(), 0)


def key(e: Event) -> tuple[Any, ...]:
    return (e.job_id, e.type, e.seq, tuple(sorted(e.data.items())))


async def until_marker(subscription: Subscription, timeout: float = 10) -> list[object]:
    """Everything queued before the marker (LAGGED and CLOSED included)."""
    items: list[object] = []
    async with asyncio.timeout(timeout):
        while True:
            item = await subscription.get(timeout)
            if isinstance(item, Event) and item.data.get("marker"):
                return items
            items.append(item)


async def ready(bus: EventBus, subscription: Subscription) -> None:
    """Wait until other replicas' events reach `subscription`, and drop the LAGGED that
    said so (RedisBus: the job's channel is subscribed; LocalBus: at once)."""
    if isinstance(bus, RedisBus):
        await eventually(lambda: bus.is_live(subscription.job_id))
        assert all(item is LAGGED for item in subscription.take())


@dataclass
class Replicas:
    a: EventBus  # publishes
    b: EventBus  # another process's bus (LocalBus: the same one)


@asynccontextmanager
async def replicas(kind: str, url: str | None, **options: Any) -> AsyncIterator[Replicas]:
    if kind == "local":
        bus = LocalBus(**options)
        yield Replicas(bus, bus)
        return
    assert url is not None
    a, b = RedisBus(url, **FAST, **options), RedisBus(url, **FAST, **options)
    await a.start()
    await b.start()
    try:
        yield Replicas(a, b)
    finally:
        await a.aclose()
        await b.aclose()


@pytest.fixture(params=["local", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def url(kind: str, request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("redis_url") if kind == "redis" else None


# -- the contract --------------------------------------------------------------------------


async def test_a_follower_elsewhere_gets_every_event_once_in_order(
    kind: str, url: str | None
) -> None:
    async with replicas(kind, url) as r:
        here, there = r.a.subscribe("job_1"), r.b.subscribe("job_1")
        other = r.b.subscribe("job_2")
        await ready(r.a, here)
        await ready(r.b, there)
        await ready(r.b, other)
        sent: list[Event] = []
        for seq in range(1, 41):
            batch = [event("job_1", seq), delta("job_1", f"text {seq}")]
            r.a.publish(batch)
            r.a.publish([event("job_2", 100 + seq)])  # not for job_1's followers
            sent += batch
        r.a.publish([event("job_1", 41, EventType.JOB_COMPLETED)])
        sent.append(event("job_1", 41, EventType.JOB_COMPLETED))

        got = await until_marker_after(r, there, "job_1")
        assert [key(e) for e in got] == [key(e) for e in sent]
        # The publisher's own follower: each event once, no echo back from Redis (a marker
        # from B reaches A after A's own messages, which B has all received).
        assert [key(e) for e in await until_marker(here)] == [key(e) for e in sent]
        r.b.publish([marker("job_1")])
        assert await until_marker(here) == []
        r.a.publish([marker("job_2")])
        assert [e.seq for e in await until_marker(other)] == list(range(101, 141))


async def until_marker_after(r: Replicas, subscription: Subscription, job_id: str) -> list:
    r.a.publish([marker(job_id)])
    return await until_marker(subscription)


async def test_a_closed_subscription_gets_nothing_more(kind: str, url: str | None) -> None:
    async with replicas(kind, url) as r:
        leaving, staying = r.b.subscribe("job_1"), r.b.subscribe("job_1")
        await ready(r.b, leaving)
        await ready(r.b, staying)
        assert r.b.follower_count("job_1") == 2
        leaving.close()
        leaving.close()  # twice is harmless
        assert r.b.follower_count("job_1") == 1
        assert r.b.follower_count() == 1
        r.a.publish([event("job_1", 1)])
        assert [e.seq for e in await until_marker_after(r, staying, "job_1")] == [1]
        assert leaving.pending == 0
        staying.close()
        assert r.b.follower_count() == 0
        if isinstance(r.b, RedisBus):  # the channel is given up with the last follower
            await eventually(lambda: not r.b.is_live("job_1"))


async def test_close_offers_closed_to_every_follower_now_and_later(
    kind: str, url: str | None
) -> None:
    async with replicas(kind, url) as r:
        first = r.b.subscribe("job_1")
        r.b.close()
        assert await first.get(5) is CLOSED
        late = r.b.subscribe("job_2")
        assert await late.get(5) is CLOSED
        r.b.publish([event("job_1", 1)])  # after CLOSED nothing more is queued
        assert first.pending == 0


async def test_an_overflowing_follower_is_told_it_lagged(kind: str, url: str | None) -> None:
    async with replicas(kind, url, queue_size=5) as r:
        slow = r.b.subscribe("job_1")
        await ready(r.b, slow)
        r.a.publish([event("job_1", seq) for seq in range(1, 21)])  # one message to B
        await eventually(lambda: slow.pending)
        items = await slow.get_ready(0)
        assert LAGGED in items
        assert len(items) <= 5, "bounded: an overflow drops events for one LAGGED"
        r.a.publish([event("job_1", 21)])
        assert [e.seq for e in await until_marker_after(r, slow, "job_1")] == [21]


async def test_a_closed_offer_survives_an_overflow(kind: str, url: str | None) -> None:
    async with replicas(kind, url, queue_size=3) as r:
        follower = r.b.subscribe("job_1")
        r.b.close()
        r.b.publish([event("job_1", seq) for seq in range(1, 10)])
        assert await follower.get_ready(5) == [CLOSED]


async def test_a_wait_ends_at_its_own_time_whatever_waits_came_before(
    kind: str, url: str | None
) -> None:
    """A wait's timer is kept across waits (re-armed only when it fires early): a long
    wait after a short one does not end with the short one's timer, nor a short wait
    after a long one with the long one's."""
    async with replicas(kind, url) as r:
        follower = r.b.subscribe("job_1")
        await ready(r.b, follower)
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, r.a.publish, [event("job_1", 1)])
        assert [e.seq for e in await follower.get_ready(0.2)] == [1]
        loop.call_later(0.5, r.a.publish, [event("job_1", 2)])  # after the 0.2 s timer
        assert [e.seq for e in await follower.get_ready(10)] == [2]
        assert await asyncio.wait_for(follower.get_ready(0.05), 5) == []
        assert await follower.get(0) is None


async def test_lifecycle_and_status(kind: str, url: str | None) -> None:
    async with replicas(kind, url) as r:
        status = r.b.status()
        assert status["backend"] == kind
        assert status["connected"] is True
        r.a.publish([])  # nothing to send is fine
    await r.b.aclose()  # twice is harmless


# -- RedisBus only ------------------------------------------------------------------------


def kill_clients(url: str, kind: str) -> int:
    client = redis_sync.Redis.from_url(url)
    try:
        return int(client.client_kill_filter(_type=kind))
    finally:
        client.close()


async def test_killed_pubsub_connections_lag_then_deliver_again(
    private_redis: PrivateRedis,
) -> None:
    redis_url = private_redis.url  # killing clients on the shared server would hit others
    async with replicas("redis", redis_url) as r:
        follower = r.b.subscribe("job_1")
        await ready(r.b, follower)
        r.a.publish([event("job_1", 1)])
        assert [e.seq for e in await until_marker_after(r, follower, "job_1")] == [1]

        assert kill_clients(redis_url, "pubsub") >= 1  # B's (A follows nothing)
        assert await follower.get(10) is LAGGED  # refill from the database: may have missed
        await ready(r.b, follower)  # reconnected, resubscribed (and LAGGED once more)
        r.a.publish([event("job_1", 2), delta("job_1", "live again")])
        got = await until_marker_after(r, follower, "job_1")
        assert [(e.seq, e.type) for e in got] == [(2, EventType.NODE_PROGRESS), (None, "llm.delta")]


async def test_a_killed_publisher_connection_is_replaced(redis_url: str) -> None:
    async with replicas("redis", redis_url) as r:
        follower = r.b.subscribe("job_1")
        await ready(r.b, follower)
        r.a.publish([event("job_1", 1)])
        assert [e.seq for e in await until_marker_after(r, follower, "job_1")] == [1]
        assert kill_clients(redis_url, "normal") >= 1
        r.a.publish([event("job_1", 2)])
        assert [e.seq for e in await until_marker_after(r, follower, "job_1")] == [2]


async def test_with_redis_down_followers_are_lagged_periodically(
    private_redis: PrivateRedis,
) -> None:
    async with replicas("redis", private_redis.url) as r:
        follower = r.b.subscribe("job_1")
        await ready(r.b, follower)
        private_redis.stop()
        for _ in range(3):  # again and again: the follower polls the database
            assert await follower.get(10) is LAGGED
        assert r.b.status()["connected"] is False
        r.a.publish([event("job_1", 1)])  # never raises, never blocks
        await eventually(lambda: r.a.status()["connected"] is False)

        await private_redis.start()
        await ready(r.b, follower)
        await eventually(lambda: r.b.status()["connected"])
        r.a.publish([event("job_1", 2)])
        got = await until_marker_after(r, follower, "job_1")
        assert [e.seq for e in got if isinstance(e, Event)][-1:] == [2]
        assert all(item is LAGGED or item.seq in (1, 2) for item in got)


async def test_start_does_not_fail_without_redis() -> None:
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0", **FAST, connect_timeout=0.2)
    await bus.start()
    try:
        follower = bus.subscribe("job_1")
        assert await follower.get(10) is LAGGED
        assert bus.status() == {"backend": "redis", "connected": False, "dropped": 0}
        bus.publish([event("job_1", 1)])
        assert await eventually(lambda: bus.status()["dropped"]) == 1
    finally:
        await bus.aclose()


# -- follow() over RedisBus, against a real store -------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLStore]:
    store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'bus.db'}")
    await store.initialize()
    yield store
    await store.close()


async def new_job(store: SQLStore) -> tuple[str, list[Event]]:
    now = utcnow()
    job = Job(new_id("job"), "f", JobStatus.RUNNING, {}, "alice", now, now,
              checkpoint=Checkpoint())  # fmt: skip
    _, events = await store.create_job(job, [NewEvent(EventType.JOB_CREATED, {})])
    return job.id, events


async def run_job(store: SQLStore, bus: EventBus, job_id: str, steps: int) -> None:
    """What a runner does: store events, then publish them (and deltas, never stored)."""
    for step in range(steps):
        stored = await store.append_events(job_id, [NewEvent(EventType.NODE_PROGRESS, {})])
        assert stored is not None
        bus.publish([*stored, delta(job_id, f"step {step}")])
        await asyncio.sleep(0)
    saved = await store.update_job(
        job_id,
        JobUpdate(status=JobStatus.COMPLETED, result={}),
        [NewEvent(EventType.JOB_COMPLETED, {"result": {}})],
    )
    assert saved is not None
    bus.publish(saved[1])


async def follow_all(store: SQLStore, bus: EventBus, job_id: str, heartbeat: float) -> list:
    return [e async for batch in follow(store, bus, job_id, 0, heartbeat) for e in batch]


async def test_follow_on_another_replica_gets_the_whole_job(
    redis_url: str, store: SQLStore
) -> None:
    async with replicas("redis", redis_url) as r:
        job_id, _ = await new_job(store)
        follower = asyncio.create_task(follow_all(store, r.b, job_id, heartbeat=30))
        await eventually(lambda: r.b.is_live(job_id))
        await run_job(store, r.a, job_id, steps=30)
        got = await asyncio.wait_for(follower, 20)
    durable = [e.seq for e in got if e.seq is not None]
    assert durable == list(range(1, 33))
    assert got[-1].type is EventType.JOB_COMPLETED
    assert [e for e in got if e.type is EventType.LLM_DELTA], "deltas arrive live"


async def test_follow_gets_every_durable_event_with_redis_down(
    private_redis: PrivateRedis, store: SQLStore
) -> None:
    async with replicas("redis", private_redis.url) as r:
        job_id, _ = await new_job(store)
        private_redis.stop()
        await eventually(lambda: not r.b.status()["connected"])
        # heartbeat 30 s: the periodic LAGGED (polling), not the heartbeat, delivers
        follower = asyncio.create_task(follow_all(store, r.b, job_id, heartbeat=30))
        await run_job(store, r.a, job_id, steps=20)
        got = await asyncio.wait_for(follower, 20)
    assert [e.seq for e in got if e.seq is not None] == list(range(1, 23))
    assert got[-1].type is EventType.JOB_COMPLETED
