"""Batch items under the fence: the runner's event writer saves finished items with its
events, behind the fenced UPDATE of the job row (one statement on PostgreSQL).

Runs on SQLite and PostgreSQL (the `store` fixture of test_store.py). An item is written
only while the runner holding that fence runs the job; an item saved again replaces the
one stored.
"""

from __future__ import annotations

from backend.domain import JobStatus
from backend.events import EventType, NewEvent
from backend.runtime.states import ACTIVE, CHECKPOINT
from backend.store.base import BatchItem, JobUpdate
from backend.store.sqlalchemy import SQLStore
from tests.backend.test_store import created, new_job, store
from tests.backend.test_store_leases import LONG, claimed, save_item

__all__ = ["store"]
RUNNING = CHECKPOINT.sources


async def test_the_runner_overwrites_its_own_item(store: SQLStore) -> None:
    job = await claimed(store)
    assert await save_item(store, job.id, "Fan#1", 0, {"r": 1}) is True
    assert await save_item(store, job.id, "Fan#1", 0, {"r": 2}) is True
    assert await store.batch_items(job.id, "Fan#1") == {0: {"r": 2}}


async def test_items_are_kept_by_key_and_index(store: SQLStore) -> None:
    job = await claimed(store)
    for key, index, result in [("Fan#1", 0, "a"), ("Fan#1", 1, "b"), ("Fan#2", 0, "c")]:
        assert await save_item(store, job.id, key, index, result) is True
    assert await save_item(store, job.id, "Fan#1", 1, None) is True
    assert await store.batch_items(job.id, "Fan#1") == {0: "a", 1: None}
    assert await store.batch_items(job.id, "Fan#2") == {0: "c"}


async def test_a_wrong_fence_writes_nothing(store: SQLStore) -> None:
    job = await claimed(store)
    for fence in (0, 2):
        assert await save_item(store, job.id, "Fan#1", 0, {"r": 1}, fence=fence) is False
    assert await store.batch_items(job.id, "Fan#1") == {}


async def test_a_stale_runner_leaves_the_stored_item_as_it_was(store: SQLStore) -> None:
    job = await claimed(store)
    assert await save_item(store, job.id, "Fan#1", 0, {"r": 1}) is True
    stolen = await store.claim_job(job.id, owner="w2", lease_seconds=LONG, steal=True)
    assert stolen is not None and stolen[0].attempts == 2
    assert await save_item(store, job.id, "Fan#1", 0, {"r": "stale"}) is False
    assert await store.batch_items(job.id, "Fan#1") == {0: {"r": 1}}
    assert await save_item(store, job.id, "Fan#1", 0, {"r": 2}, fence=2) is True
    assert await store.batch_items(job.id, "Fan#1") == {0: {"r": 2}}


async def test_only_a_running_job_takes_fenced_items(store: SQLStore) -> None:
    """The fence alone is not enough: a pending job's attempts (0) or a finished job's
    last attempt may equal a stale runner's fence."""
    pending, _ = await store.create_job(new_job(), created())
    assert await save_item(store, pending.id, "Fan#1", 0, 1, fence=0) is False
    cancelled = await claimed(store)
    assert await save_item(store, cancelled.id, "Fan#1", 0, 1) is True
    await store.update_job(cancelled.id, JobUpdate(status=JobStatus.CANCELLED), expect=ACTIVE)
    assert await save_item(store, cancelled.id, "Fan#1", 0, 2) is False
    assert await save_item(store, "job_missing", "Fan#1", 0, 1) is False
    assert await store.batch_items(pending.id, "Fan#1") == {}
    assert await store.batch_items(cancelled.id, "Fan#1") == {0: 1}


async def test_items_ride_with_events_behind_the_same_fence(store: SQLStore) -> None:
    """The event writer saves finished items in its events' transaction: stored with
    them, replacing an item run again, and not at all once the fence is stale."""
    job = await claimed(store)
    progress = NewEvent(EventType.NODE_PROGRESS, {"node": "Fan", "message": "1 of 2"})
    stored = await store.append_events(
        job.id,
        [progress],
        expect=RUNNING,
        fence=1,
        items=[BatchItem("Fan#1", 0, {"r": 1}), BatchItem("Fan#1", 1, "b")],
    )
    assert stored is not None and [e.type for e in stored] == [EventType.NODE_PROGRESS]
    assert await store.append_events(
        job.id, [], expect=RUNNING, fence=1, items=[BatchItem("Fan#1", 0, {"r": 2})]
    ) == []  # fmt: skip
    assert await store.batch_items(job.id, "Fan#1") == {0: {"r": 2}, 1: "b"}
    stolen = await store.claim_job(job.id, owner="w2", lease_seconds=LONG, steal=True)
    assert stolen is not None
    refused = await store.append_events(
        job.id, [progress], expect=RUNNING, fence=1, items=[BatchItem("Fan#1", 1, "stale")]
    )
    assert refused is None
    assert await store.batch_items(job.id, "Fan#1") == {0: {"r": 2}, 1: "b"}
    assert [e.type for e in await store.events_after(job.id, stored[-1].seq)] == [
        EventType.JOB_STARTED  # the second claim's; the stale runner's line is not there
    ]
