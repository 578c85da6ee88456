"""follow(): replay then live, in batches, and never hanging past the end of a job."""

from __future__ import annotations

import asyncio
from pathlib import Path

from backend.runtime.follow import follow
from flows.providers.scripted_llm import Reply, ScriptedLLM
from tests.harness import Harness, running_app


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
