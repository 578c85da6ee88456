"""follow(): replay then live, in batches, never hanging past the end of a job, and
telling a server shutdown apart from the job's end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from backend.domain import Checkpoint, Job, JobStatus, utcnow
from backend.events import Event, EventType, NewEvent
from backend.ids import new_id
from backend.runtime.bus import CLOSED, LAGGED, LocalBus, Subscription
from backend.runtime.follow import ServerClosing, follow
from backend.runtime.wakeups import WakeUps
from backend.store.base import JobUpdate
from backend.store.sqlalchemy import SQLStore
from flows.providers.scripted_llm import Reply, ScriptedLLM
from tests.harness import Harness, running_app


async def eventually(check: Callable[[], Any], timeout: float = 10) -> Any:
    """Poll `check` until it returns something true, or fail."""
    async with asyncio.timeout(timeout):
        while not (result := check()):
            await asyncio.sleep(0.01)
    return result


async def collect(h: Harness, job_id: str, after: int) -> list[list[dict]]:
    parts = h.services
    batches = []
    async for batch in follow(parts.store, parts.bus, job_id, after, heartbeat=0.1):
        if batch:
            batches.append([e.to_json() for e in batch])
    return batches


async def test_a_finished_job_is_replayed_in_one_batch(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    await harness.wait_for(job["id"])
    batches = await asyncio.wait_for(collect(harness, job["id"], 0), 5)
    assert batches == [await harness.events(job["id"])]


async def test_starting_past_the_end_of_a_running_job_ends_with_the_job(tmp_path: Path) -> None:
    """A Last-Event-ID beyond last_seq used to wait forever: the terminal event was skipped."""
    llm = ScriptedLLM([Reply("an answer", match="Task:", delay=0.3)])
    async with running_app(tmp_path, llm) as h:
        job = await h.create("review", {"task": "t"})
        follower = asyncio.create_task(collect(h, job["id"], 10_000))
        await h.decide(job["id"], "approve")
        await h.wait_for(job["id"])
        batches = await asyncio.wait_for(follower, 5)
    assert [e for batch in batches for e in batch if e["seq"] is not None] == []


async def test_live_events_published_together_go_out_together(tmp_path: Path) -> None:
    llm = ScriptedLLM([Reply("an answer", match="Task:", delay=0.2)])
    async with running_app(tmp_path, llm) as h:
        job = await h.create("review", {"task": "t"})
        follower = asyncio.create_task(collect(h, job["id"], 0))
        await h.decide(job["id"], "approve")
        batches = await asyncio.wait_for(follower, 10)
        stored = await h.events(job["id"])
    assert [e for batch in batches for e in batch if e["seq"] is not None] == stored
    # the gate's node.started and review.requested are one transaction: one batch
    assert any(
        [e["type"] for e in batch][-2:] == ["node.started", "review.requested"] for batch in batches
    )


def test_sse_chunks_group_small_events_and_cut_big_ones() -> None:
    from backend.api.events import sse_chunks
    from backend.domain import utcnow
    from backend.events import Event, EventType

    def event(seq: int, size: int) -> Event:
        return Event("job_1", EventType.NODE_PROGRESS, {"x": "y" * size}, utcnow(), 0, seq)

    batch = [event(1, 10), event(2, 10), event(3, 5000), event(4, 10)]
    chunks = list(sse_chunks(batch, size=1024))
    assert b"".join(chunks) == b"".join(e.sse_bytes() for e in batch)
    assert all(len(chunk) <= 1024 for chunk in chunks)
    assert chunks[0] == batch[0].sse_bytes() + batch[1].sse_bytes(), "small events share a write"
    assert chunks[-1] == batch[3].sse_bytes()


# -- missed publishes, shutdown, heartbeats --------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLStore]:
    store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'follow.db'}")
    await store.initialize()
    yield store
    await store.close()


async def new_job(store: SQLStore) -> str:
    now = utcnow()
    job = Job(new_id("job"), "f", JobStatus.RUNNING, {}, "alice", now, now,
              checkpoint=Checkpoint())  # fmt: skip
    await store.create_job(job, [NewEvent(EventType.JOB_CREATED, {})])
    return job.id


async def test_a_lost_publish_is_caught_up_on_the_heartbeat(store: SQLStore) -> None:
    """Stored but never published (a lost Redis message): the heartbeat's store check
    delivers it, and the follower still ends after the terminal event."""
    job_id = await new_job(store)
    bus = LocalBus()
    batches: list[list[Event]] = []

    async def run() -> None:
        async for batch in follow(store, bus, job_id, 0, heartbeat=0.05):
            batches.append(batch)

    follower = asyncio.create_task(run())
    await eventually(lambda: bus.follower_count(job_id) == 1)
    await store.append_events(job_id, [NewEvent(EventType.NODE_PROGRESS, {})])  # unpublished
    await store.update_job(
        job_id,
        JobUpdate(status=JobStatus.COMPLETED, result={}),
        [NewEvent(EventType.JOB_COMPLETED, {"result": {}})],
    )
    await asyncio.wait_for(follower, 10)
    assert [e.seq for batch in batches for e in batch] == [1, 2, 3]
    assert bus.follower_count() == 0


async def test_shutdown_is_not_the_end_of_the_job(store: SQLStore) -> None:
    job_id = await new_job(store)
    bus = LocalBus()
    seen: list[Event] = []

    async def run() -> None:
        async for batch in follow(store, bus, job_id, 0, heartbeat=30):
            seen.extend(batch)

    follower = asyncio.create_task(run())
    await eventually(lambda: seen)
    bus.close()
    with pytest.raises(ServerClosing):
        await asyncio.wait_for(follower, 10)
    assert [e.seq for e in seen] == [1]


async def test_heartbeats_go_out_even_while_the_bus_keeps_lagging(store: SQLStore) -> None:
    """A RedisBus with Redis down offers LAGGED every poll interval; each refill must not
    push the heartbeat back, or SSE clients would see no `: ping` for the whole outage."""
    job_id = await new_job(store)
    bus = LocalBus()

    async def lag_forever() -> None:
        while True:
            bus.lag()
            await asyncio.sleep(0.01)

    lagging = asyncio.create_task(lag_forever())
    try:
        stream = follow(store, bus, job_id, 0, heartbeat=0.2)
        assert [e.seq for e in await anext(stream)] == [1]
        assert await asyncio.wait_for(anext(stream), 10) == []
        await stream.aclose()
    finally:
        lagging.cancel()


def test_closed_is_seen_behind_lagged_and_holes() -> None:
    from backend.runtime.follow import _CLOSING, _REFILL, _live_batch

    def progress(seq: int | None) -> Event:
        return Event("job_1", EventType.NODE_PROGRESS, {}, utcnow(), 0, seq)

    assert _live_batch([LAGGED, progress(5), CLOSED], 3)[2] is _CLOSING
    assert _live_batch([progress(4), progress(7), CLOSED], 3)[1:] == (4, _CLOSING)
    batch, last, state = _live_batch([progress(4), LAGGED, progress(5)], 3)
    assert ([e.seq for e in batch], last, state) == ([4], 4, _REFILL)


async def test_sse_streams_end_when_the_server_shuts_down(harness: Harness) -> None:
    """The client reconnects with Last-Event-ID (to this or another replica)."""
    job = await harness.create("review", {"task": "t"})
    await harness.wait_for(job["id"], "waiting_for_review")
    stream = asyncio.create_task(
        harness.client.get(
            f"/api/jobs/{job['id']}/events",
            headers={**harness.headers(), "Accept": "text/event-stream"},
        )
    )
    await eventually(lambda: harness.services.bus.follower_count(job["id"]) >= 1)
    harness.services.bus.close()
    response = await asyncio.wait_for(stream, 10)
    body = await response.get_data(as_text=True)
    assert "event: review.requested" in body
    assert "job.completed" not in body


async def test_a_finished_stream_ends_after_the_other_followers_got_the_end(
    store: SQLStore,
) -> None:
    """Ending a stream costs more than a write: with a fan-out in progress, every
    follower gets the terminal event before any stream ends."""
    job_id = await new_job(store)
    bus = RecordingBus(wakeups=WakeUps(per_turn=2))
    log: list[str] = []

    async def run(name: str) -> None:
        async for batch in follow(store, bus, job_id, 1, heartbeat=30):
            log.extend(f"got {name}" for e in batch if e.type is EventType.JOB_COMPLETED)
        log.append(f"end {name}")

    followers = [asyncio.create_task(run(str(i))) for i in range(7)]
    await eventually(lambda: len(bus.made) == 7 and all(s.waiting for s in bus.made))
    completed = Event(job_id, EventType.JOB_COMPLETED, {"result": {}}, utcnow(), 100, 2)
    bus.publish([completed])
    await asyncio.wait_for(asyncio.gather(*followers), 10)
    assert sorted(log[:7]) == sorted(f"got {i}" for i in range(7)), log
    assert bus.follower_count() == 0


class RecordingBus(LocalBus):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.made: list[Subscription] = []

    def subscribe(self, job_id: str) -> Subscription:
        self.made.append(subscription := super().subscribe(job_id))
        return subscription


async def test_a_catch_up_that_finds_nothing_does_not_read_the_job(store: SQLStore) -> None:
    """Only the replay can start past the end of a finished job; later, an empty catch-up
    (a LAGGED bus, a heartbeat) means the job goes on, so it costs one read, not two."""
    job_id = await new_job(store)
    bus = LocalBus()
    reads: list[str] = []
    real_get_job, real_events_after = store.get_job, store.events_after

    async def get_job(job_id: str) -> Job | None:
        reads.append("job")
        return await real_get_job(job_id)

    async def events_after(job_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        found = await real_events_after(job_id, after, limit)
        reads.append(f"events after {after}: {len(found)}")
        return found

    store.get_job = get_job  # type: ignore[method-assign]
    store.events_after = events_after  # type: ignore[method-assign]
    stream = follow(store, bus, job_id, 0, heartbeat=30)
    assert [e.seq for e in await anext(stream)] == [1]
    waiting = asyncio.ensure_future(anext(stream))
    await eventually(lambda: bus.follower_count(job_id) == 1)
    for lags in range(1, 4):
        bus.lag()  # a catch-up read that finds nothing new
        await eventually(lambda lags=lags: reads.count("events after 1: 0") == lags)
    stored = await store.append_events(job_id, [NewEvent(EventType.NODE_PROGRESS, {})])
    assert stored is not None
    bus.publish(stored)
    assert [e.seq for e in await asyncio.wait_for(waiting, 10)] == [2]
    await stream.aclose()
    assert reads == ["events after 0: 1", *["events after 1: 0"] * 3]
