"""The runner's checkpoint write (`append_events` with `update_`) on every backend.

It runs its two statements on the driver's cursor (backend/store/prepared.py), compiled
once and shared by every job: these check that it stays one fenced transaction - all of
it or nothing - that the shared statements never mix two jobs' rows, and that a driver
error still reaches callers as StoreUnavailable.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy import update as sql_update

from backend.domain import Checkpoint, Job, JobStatus, Review, utcnow
from backend.errors import StoreUnavailable
from backend.events import EventType, NewEvent
from backend.ids import new_id
from backend.runtime import states
from backend.store import tables as t
from backend.store.base import JobUpdate
from backend.store.sqlalchemy import SQLStore
from tests.backend.test_store import store

__all__ = ["store"]  # the store contract fixture of test_store.py, both databases


async def claimed_job(store: SQLStore) -> Job:
    now = utcnow()
    job = Job(new_id("job"), "chain", JobStatus.PENDING, {"topic": "t"}, "alice", now, now,
              checkpoint=Checkpoint(shared={"topic": "t"}))  # fmt: skip
    await store.create_job(job, [NewEvent(EventType.JOB_CREATED, {"flow": "chain"})])
    claimed = await store.claim_job(job.id, owner="w", lease_seconds=60)
    assert claimed is not None
    return claimed[0]


def node_events(node: str) -> list[NewEvent]:
    return [
        NewEvent(EventType.NODE_STARTED, {"node": node, "attempt": 1}),
        NewEvent(EventType.NODE_PROGRESS, {"node": node, "message": "half", "fraction": 0.5}),
        NewEvent(EventType.NODE_FINISHED, {"node": node, "duration_ms": 1, "summary": None}),
    ]


def checkpoint(shared: dict[str, Any], next_node: str, progress: int) -> JobUpdate:
    runtime = {"visits": {"a": 1}, "finished": ["a"]}
    return JobUpdate(
        checkpoint=Checkpoint(shared, next_node, runtime),
        progress=progress,
        current_node=next_node,
    )


async def save(store: SQLStore, job: Job, update: JobUpdate, events: list[NewEvent]) -> Any:
    return await store.append_events(
        job.id, events, update_=update, expect=states.CHECKPOINT.sources, fence=job.attempts
    )


async def test_a_checkpoint_and_its_events_are_stored_together(store: SQLStore) -> None:
    job = await claimed_job(store)
    stored = await save(store, job, checkpoint({"topic": "t", "out": ["é", 1.5]}, "b", 50),
                        node_events("a"))  # fmt: skip
    assert [e.seq for e in stored] == [3, 4, 5]  # job.created, job.started, then these
    assert {e.progress for e in stored} == {50}
    after = await store.get_job(job.id)
    assert after is not None
    assert after.checkpoint == Checkpoint(
        {"topic": "t", "out": ["é", 1.5]}, "b", {"visits": {"a": 1}, "finished": ["a"]}
    )
    assert (after.progress, after.current_node, after.last_seq) == (50, "b", 5)
    assert after.status is JobStatus.RUNNING
    # the lease is untouched: the runner still holds the job and renews it
    assert await store.renew_lease(job.id, fence=job.attempts, lease_seconds=60)
    events = await store.events_after(job.id, 2)
    assert [(e.seq, e.type, e.data) for e in events] == [(e.seq, e.type, e.data) for e in stored]
    assert events[0].ts == stored[0].ts


async def test_a_stale_fence_or_status_writes_nothing(store: SQLStore) -> None:
    job = await claimed_job(store)
    stale = await store.append_events(
        job.id, node_events("a"), update_=checkpoint({"x": 1}, "b", 50),
        expect=states.CHECKPOINT.sources, fence=job.attempts - 1,
    )  # fmt: skip
    assert stale is None
    await store.update_job(job.id, JobUpdate(status=JobStatus.CANCELLED))
    cancelled = await save(store, job, checkpoint({"x": 1}, "b", 50), node_events("a"))
    assert cancelled is None
    after = await store.get_job(job.id)
    assert after is not None and after.checkpoint.shared == {"topic": "t"}
    assert after.last_seq == 2
    assert [e.type for e in await store.events_after(job.id)] == [
        EventType.JOB_CREATED,
        EventType.JOB_STARTED,
    ]


async def test_a_failure_inside_the_transaction_leaves_neither_checkpoint_nor_event(
    store: SQLStore,
) -> None:
    """The events' INSERT fails after the job's UPDATE ran: both are rolled back, and the
    caller gets StoreUnavailable (a driver error through the prepared path)."""
    job = await claimed_job(store)

    def squat(conn: Any) -> None:  # a row where the checkpoint's second event must go
        conn.execute(insert(t.events).values(job_id=job.id, seq=4, type="node.progress",
                                              ts=utcnow(), progress=0, data={}))  # fmt: skip

    await store._write(squat)
    with pytest.raises(StoreUnavailable):
        await save(store, job, checkpoint({"x": 1}, "b", 50), node_events("a"))
    after = await store.get_job(job.id)
    assert after is not None
    assert (after.checkpoint.shared, after.last_seq, after.progress) == ({"topic": "t"}, 2, 0)
    events = await store.events_after(job.id)
    assert [e.seq for e in events] == [1, 2, 4]  # only the squatter: nothing of the write
    # and the store writes again afterwards (the writer's connection survived the error)
    assert await store.append_events(job.id, [], expect=states.CHECKPOINT.sources) == []


async def test_interleaved_checkpoints_of_two_jobs_stay_apart(store: SQLStore) -> None:
    """The compiled statements are shared by every job; parameters never are."""
    first, second = await claimed_job(store), await claimed_job(store)
    for step in range(3):
        for job in (first, second):
            shared = {"job": job.id, "step": step}
            stored = await save(store, job, checkpoint(shared, f"n{step}", step * 10),
                                node_events(f"{job.id}-{step}"))  # fmt: skip
            assert {e.job_id for e in stored} == {job.id}
    for job in (first, second):
        after = await store.get_job(job.id)
        assert after is not None
        assert after.checkpoint.shared == {"job": job.id, "step": 2}
        assert (after.last_seq, after.progress, after.current_node) == (11, 20, "n2")
        events = await store.events_after(job.id, 2)
        assert [e.seq for e in events] == list(range(3, 12))
        assert all(e.data["node"].startswith(job.id) for e in events)


async def test_changes_it_cannot_make_without_reading_back_are_refused(store: SQLStore) -> None:
    job = await claimed_job(store)
    review = Review(id=new_id("rev"), node="gate", prompt="ok?", options=["yes"], payload={},
                    requested_at=utcnow())  # fmt: skip
    for update in (JobUpdate(review=review), JobUpdate(start_attempt=True)):
        with pytest.raises(ValueError):
            await store.append_events(job.id, [], update_=update)


async def test_a_completion_known_to_its_writer_is_what_the_store_reads_back(
    store: SQLStore,
) -> None:
    """The runner completes a job without reading it back (`JobUpdate.applied_to`): what
    it hands to the job's listeners (a session folding its result) must be the stored job."""
    job = await claimed_job(store)
    update = JobUpdate(
        status=JobStatus.COMPLETED,
        result={"article": "# Bread\n\nIt rises.", "words": 3},
        progress=100,
        current_node=None,
        checkpoint=Checkpoint({"topic": "t", "article": "# Bread"}, None, {"finished": ["a"]}),
    )
    stored = await store.append_events(
        job.id,
        [NewEvent(EventType.JOB_COMPLETED, {"result": update.result})],
        update_=update,
        expect=states.COMPLETE.sources,
        fence=job.attempts,
    )
    assert stored is not None
    known = update.applied_to(job, last_seq=stored[-1].seq, updated_at=utcnow())
    read = await store.get_job(job.id)
    assert read is not None
    assert read.status is JobStatus.COMPLETED
    fields = ("status", "result", "error", "progress", "current_node", "checkpoint", "last_seq",
              "attempts", "review", "input", "owner", "flow", "created_at")  # fmt: skip
    assert {f: getattr(known, f) for f in fields} == {f: getattr(read, f) for f in fields}


async def test_other_writes_stay_transactions_after_one_statement_writes(
    store: SQLStore,
) -> None:
    """On PostgreSQL a checkpoint is one statement run in autocommit, on connections of
    the same pool: each must come back to ordinary transactions, so that a write of
    several statements that fails half way still leaves nothing behind."""
    job = await claimed_job(store)
    for step in range(15):  # more writes than the pool has connections
        assert await save(store, job, checkpoint({"step": step}, "b", step), []) == []
    before = await store.get_job(job.id)
    assert before is not None and before.progress == 14

    def half_then_fail(conn: Any) -> None:
        conn.execute(sql_update(t.jobs).where(t.jobs.c.id == job.id).values(progress=99))
        raise RuntimeError("after the first statement")

    for _ in range(15):
        with pytest.raises(RuntimeError):
            await store._write(half_then_fail)
    after = await store.get_job(job.id)
    assert after is not None and after.progress == 14
