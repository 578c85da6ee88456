"""The Store contract for scale-out: leases, fencing, idempotent artifacts, failure state.

Runs on SQLite and PostgreSQL (the `store` fixture of test_store.py). A runner's fence is
the `attempts` its claim returned; every write it makes with a stale fence changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, select, text

from backend.domain import Artifact, Checkpoint, Job, JobStatus, Review, utcnow
from backend.errors import StoreUnavailable
from backend.events import EventType, NewEvent
from backend.ids import new_id
from backend.runtime.states import ACTIVE, CHECKPOINT
from backend.store.base import BatchItem, Decision, JobUpdate
from backend.store.migrate import sync_url
from backend.store.sqlalchemy import SQLStore
from backend.store.tables import jobs
from tests.backend.test_store import created, new_job, store

__all__ = ["store"]

T = TypeVar("T")
LONG = 60.0  # a lease that outlives the test
PROGRESS = NewEvent(EventType.NODE_PROGRESS, {})


async def eventually(attempt: Callable[[], Awaitable[T | None]], timeout: float = 5.0) -> T:
    """Retry `attempt` until it returns something: leases expire by the clock."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (result := await attempt()) is None or result is False or result == []:
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)
    return result


async def claimed(store: SQLStore, lease_seconds: float = LONG, owner: str = "w1") -> Job:
    """A new job, claimed once (fence 1)."""
    job, _ = await store.create_job(new_job(), created())
    claim = await store.claim_job(job.id, owner=owner, lease_seconds=lease_seconds)
    assert claim is not None
    return claim[0]


async def save_item(
    store: SQLStore, job_id: str, key: str, index: int, result: Any, *, fence: int = 1
) -> bool:
    """One finished item, saved as the runner's event writer saves it; False if refused."""
    items = [BatchItem(key, index, result)]
    return (
        await store.append_events(job_id, [], expect=CHECKPOINT.sources, fence=fence, items=items)
        is not None
    )


def lease(store: SQLStore, job_id: str) -> tuple[Any, Any]:
    """(lease_owner, lease_expires_at) as stored: the Job record does not carry them."""
    engine = create_engine(sync_url(store.url))
    try:
        with engine.connect() as conn:
            query = select(jobs.c.lease_owner, jobs.c.lease_expires_at).where(jobs.c.id == job_id)
            return tuple(conn.execute(query).one())
    finally:
        engine.dispose()


def artifact_of(job: Job, artifact_id: str | None = None) -> Artifact:
    return Artifact(
        id=artifact_id or new_id("art"),
        job_id=job.id,
        owner=job.owner,
        kind="text",
        mime="text/plain",
        name="a.txt",
        size=2,
        created_at=utcnow(),
        data=b"hi",
    )


def created_event(artifact: Artifact) -> NewEvent:
    return NewEvent(EventType.ARTIFACT_CREATED, {"artifact_id": artifact.id})


# -- claims ----------------------------------------------------------------------------


async def test_a_pending_job_is_claimed_with_a_lease_and_job_started(store: SQLStore) -> None:
    job, _ = await store.create_job(new_job(), created())
    claim = await store.claim_job(job.id, owner="w1", lease_seconds=LONG)
    assert claim is not None
    claimed_job, events = claim
    assert claimed_job.status is JobStatus.RUNNING and claimed_job.attempts == 1
    assert [(e.seq, e.type, e.data) for e in events] == [(2, EventType.JOB_STARTED, {"attempt": 1})]
    assert claimed_job.last_seq == 2
    assert [e.seq for e in await store.events_after(job.id)] == [1, 2]
    assert (await store.events_after(job.id, 1)) == events  # as stored: data, progress, ts
    owner, expires = lease(store, job.id)
    assert owner == "w1" and expires is not None


async def test_a_claimed_job_is_the_stored_job_field_for_field(store: SQLStore) -> None:
    """The claim reads its row off the driver's cursor (`prepared.fetch_row`): JSON,
    datetimes, floats and lists come back as a read of the job does."""
    job = replace(
        new_job(),
        input={"topic": "crème brûlée", "n": [1, 2.5, None]},
        checkpoint=Checkpoint({"outline": {"title": "é"}}, "Write", {"visits": {"Plan": 1}}),
        reviewers=["bob", "slack:T1:U2"],
        review_timeout=90.5,
        on_timeout="approve",
        session_id="ses_1",
    )
    await store.create_job(job, created())
    claim = await store.claim_job(job.id, owner="w1", lease_seconds=LONG)
    assert claim is not None
    read = await store.get_job(job.id)
    assert claim[0] == read
    assert claim[0].review_timeout == 90.5 and claim[0].created_at.tzinfo is not None


async def test_a_live_lease_refuses_a_second_claim_but_not_a_steal(store: SQLStore) -> None:
    job = await claimed(store)
    assert await store.claim_job(job.id, owner="w2", lease_seconds=LONG) is None
    stolen = await store.claim_job(job.id, owner="w2", lease_seconds=LONG, steal=True)
    assert stolen is not None and stolen[0].attempts == 2
    assert stolen[1][0].data == {"attempt": 2}
    assert lease(store, job.id)[0] == "w2"
    assert [e.seq for e in await store.events_after(job.id)] == [1, 2, 3]


async def test_an_expired_lease_is_claimed_by_another_runner(store: SQLStore) -> None:
    job = await claimed(store, lease_seconds=0.05)

    async def claim() -> Any:
        return await store.claim_job(job.id, owner="w2", lease_seconds=LONG)

    taken, events = await eventually(claim)
    assert taken.attempts == 2 and events[0].data == {"attempt": 2}


async def test_unclaimable_jobs_are_refused(store: SQLStore) -> None:
    assert await store.claim_job("job_nope", owner="w1", lease_seconds=LONG) is None
    job, _ = await store.create_job(new_job(), created())
    await store.update_job(job.id, JobUpdate(status=JobStatus.CANCELLED))
    assert await store.claim_job(job.id, owner="w1", lease_seconds=LONG, steal=True) is None
    assert [e.seq for e in await store.events_after(job.id)] == [1]


async def test_of_concurrent_claims_exactly_one_wins(store: SQLStore) -> None:
    job, _ = await store.create_job(new_job(), created())
    claims = await asyncio.gather(
        *(store.claim_job(job.id, owner=f"w{i}", lease_seconds=LONG) for i in range(20))
    )
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1 and winners[0][0].attempts == 1
    started = [e for e in await store.events_after(job.id) if e.type is EventType.JOB_STARTED]
    assert len(started) == 1
    stored = await store.get_job(job.id)
    assert stored is not None and stored.attempts == 1


# -- fencing ---------------------------------------------------------------------------


async def test_a_stale_fence_writes_nothing(store: SQLStore) -> None:
    job = await claimed(store)
    stolen = await store.claim_job(job.id, owner="w2", lease_seconds=LONG, steal=True)
    assert stolen is not None
    before = await store.events_after(job.id)
    running = {JobStatus.RUNNING}

    update = JobUpdate(progress=50, checkpoint=Checkpoint({"stale": True}, "Next"))
    assert await store.update_job(job.id, update, [PROGRESS], expect=running, fence=1) is None
    assert await store.append_events(job.id, [PROGRESS], expect=running, fence=1) is None
    assert await save_item(store, job.id, "Fan#1", 0, {"r": 1}) is False
    artifact = artifact_of(job)
    assert await store.save_artifact(artifact, created_event(artifact), fence=1) is None

    assert await store.events_after(job.id) == before
    assert await store.batch_items(job.id, "Fan#1") == {}
    assert await store.get_artifact(artifact.id) is None
    stored = await store.get_job(job.id)
    assert stored is not None and stored.progress == 0 and stored.checkpoint.shared == {"a": 1}


async def test_the_current_fence_writes(store: SQLStore) -> None:
    job = await claimed(store)
    running = {JobStatus.RUNNING}
    saved = await store.update_job(job.id, JobUpdate(progress=10), [PROGRESS], fence=1)
    assert saved is not None and saved[0].progress == 10
    assert await store.append_events(job.id, [PROGRESS], expect=running, fence=1) is not None
    assert await save_item(store, job.id, "Fan#1", 0, {"r": 1}) is True
    artifact = artifact_of(job)
    stored = await store.save_artifact(artifact, created_event(artifact), fence=1)
    assert stored is not None and [e.type for e in stored] == [EventType.ARTIFACT_CREATED]
    assert [e.seq for e in await store.events_after(job.id)] == [1, 2, 3, 4, 5]
    assert await store.batch_items(job.id, "Fan#1") == {0: {"r": 1}}


async def test_a_cancelled_job_takes_no_fenced_batch_items_or_artifacts(store: SQLStore) -> None:
    job = await claimed(store)
    await store.update_job(job.id, JobUpdate(status=JobStatus.CANCELLED), expect=ACTIVE)
    assert await save_item(store, job.id, "Fan#1", 0, {"r": 1}) is False
    artifact = artifact_of(job)
    assert await store.save_artifact(artifact, created_event(artifact), fence=1) is None
    assert await store.get_artifact(artifact.id) is None


# -- renewing and releasing ------------------------------------------------------------


async def test_renewal_fails_after_a_takeover_or_a_cancel(store: SQLStore) -> None:
    job = await claimed(store)
    assert await store.renew_lease(job.id, fence=1, lease_seconds=LONG) is True
    await store.claim_job(job.id, owner="w2", lease_seconds=LONG, steal=True)
    assert await store.renew_lease(job.id, fence=1, lease_seconds=LONG) is False
    assert await store.renew_lease(job.id, fence=2, lease_seconds=LONG) is True
    cancelled = await store.update_job(job.id, JobUpdate(status=JobStatus.CANCELLED), expect=ACTIVE)
    assert cancelled is not None
    assert await store.renew_lease(job.id, fence=2, lease_seconds=LONG) is False
    assert lease(store, job.id) == (None, None), "a job that is not running has no lease"


async def test_renewal_keeps_an_expiring_lease_alive(store: SQLStore) -> None:
    job = await claimed(store, lease_seconds=0.05)
    assert await store.renew_lease(job.id, fence=1, lease_seconds=LONG) is True
    await asyncio.sleep(0.1)  # past the first expiry: only the renewal holds the job now
    assert await store.claim_job(job.id, owner="w2", lease_seconds=LONG) is None


async def test_a_released_job_is_claimable_at_once(store: SQLStore) -> None:
    job = await claimed(store)
    await store.release_lease(job.id, fence=1)
    assert lease(store, job.id)[1] is None
    claim = await store.claim_job(job.id, owner="w2", lease_seconds=LONG)
    assert claim is not None and claim[0].attempts == 2
    await store.release_lease(job.id, fence=1)  # stale: changes nothing
    assert lease(store, job.id)[0] == "w2"


async def test_a_decision_clears_the_lease(store: SQLStore) -> None:
    job = await claimed(store)
    review = Review(
        id=new_id("rev"),
        node="Gate",
        prompt="ok?",
        options=["approve"],
        payload={},
        requested_at=utcnow(),
    )
    parked = await store.update_job(
        job.id,
        JobUpdate(status=JobStatus.WAITING_FOR_REVIEW, review=review),
        expect={JobStatus.RUNNING},
        fence=1,
    )
    assert parked is not None and lease(store, job.id) == (None, None)
    decided, _ = await store.decide_review(
        job.id,
        Decision(review.id, "approve", None, "bob", "api"),
        NewEvent(EventType.REVIEW_DECIDED, {"decision": "approve"}),
    )
    assert decided.status is JobStatus.RUNNING and lease(store, job.id) == (None, None)
    claim = await store.claim_job(job.id, owner="w2", lease_seconds=LONG)
    assert claim is not None and claim[0].attempts == 2


# -- unowned jobs ----------------------------------------------------------------------


async def test_unowned_jobs_are_expired_running_and_old_pending(store: SQLStore) -> None:
    old = new_job()
    old.created_at = old.updated_at = utcnow() - timedelta(hours=1)
    await store.create_job(old, created())
    await store.create_job(new_job(), created())  # fresh pending: its queue has it
    live = await claimed(store)
    expired = await claimed(store, lease_seconds=0.05)
    done = await claimed(store, lease_seconds=0.05)
    await store.update_job(done.id, JobUpdate(status=JobStatus.COMPLETED), fence=1)

    async def listed() -> list[str] | None:
        ids = await store.unowned_jobs(grace_seconds=LONG)
        return ids if expired.id in ids else None

    assert await eventually(listed) == [old.id, expired.id]
    assert live.id not in await store.unowned_jobs(grace_seconds=LONG)
    assert await store.unowned_jobs(grace_seconds=LONG, limit=1) == [old.id]


async def test_a_running_job_without_a_lease_is_unowned_once_quiet(store: SQLStore) -> None:
    job = await claimed(store)
    await store.release_lease(job.id, fence=1)
    assert await store.unowned_jobs(grace_seconds=LONG) == []
    assert await eventually(lambda: store.unowned_jobs(grace_seconds=0.01)) == [job.id]


# -- artifacts -------------------------------------------------------------------------


async def test_an_artifact_is_stored_once_by_id(store: SQLStore) -> None:
    job = await claimed(store)
    artifact = artifact_of(job, artifact_id="art_" + job.id[-24:] + "_d1")  # derived, <= 40
    first = await store.save_artifact(artifact, created_event(artifact), fence=1)
    assert first is not None and [e.type for e in first] == [EventType.ARTIFACT_CREATED]
    again = artifact_of(job, artifact_id=artifact.id)
    again.data = b"other"
    assert await store.save_artifact(again, created_event(again), fence=1) == []
    kept = await store.get_artifact(artifact.id)
    assert kept is not None and kept.data == b"hi"
    types = [e.type for e in await store.events_after(job.id)]
    assert types.count(EventType.ARTIFACT_CREATED) == 1


async def test_concurrent_copies_of_an_artifact_store_one(store: SQLStore) -> None:
    job = await claimed(store)
    artifact = artifact_of(job)
    saved = await asyncio.gather(
        *(store.save_artifact(artifact, created_event(artifact), fence=1) for _ in range(10))
    )
    assert sorted(len(s or []) for s in saved) == [0] * 9 + [1]
    types = [e.type for e in await store.events_after(job.id)]
    assert types.count(EventType.ARTIFACT_CREATED) == 1


# -- failure state ---------------------------------------------------------------------


def rename_table(store: SQLStore, old: str, new: str) -> None:
    """Break (and mend) writes from outside the store, the same way on both databases."""
    engine = create_engine(sync_url(store.url))
    try:
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
    finally:
        engine.dispose()


async def test_failing_is_set_by_a_failed_write_and_cleared_by_a_working_one(
    store: SQLStore,
) -> None:
    job, _ = await store.create_job(new_job(), created())
    assert store.failing is False
    rename_table(store, "events", "events_away")
    with pytest.raises(StoreUnavailable):
        await store.append_events(job.id, [PROGRESS])
    assert store.failing is True
    assert await store.get_job(job.id) is not None
    assert store.failing is True, "reads work on a full disk too: only a write clears it"
    rename_table(store, "events_away", "events")
    assert await store.append_events(job.id, [PROGRESS]) is not None
    assert store.failing is False
