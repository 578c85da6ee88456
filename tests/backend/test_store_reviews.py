"""The store's review timers and assignees, on SQLite and PostgreSQL (real row locks).

Many sweeps and a person's decision racing for one review: one decision is stored, one
`review.decided` appended, one reminder at most, and the job moves once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from backend.domain import JobStatus, Review, utcnow
from backend.errors import Conflict
from backend.events import EventType, NewEvent
from backend.ids import new_id
from backend.store.base import Decision, JobUpdate
from backend.store.sqlalchemy import SQLStore
from tests.backend.test_store import created, new_job, store

__all__ = ["store"]  # the store contract fixture of test_store.py, both databases


async def parked(store: SQLStore, *, seconds: float = 60, assignees: list[str] | None = None):
    """A job waiting at a review with a deadline `seconds` away."""
    job = new_job()
    job.reviewers = ["bob"]
    job, _ = await store.create_job(job, created())
    now = utcnow()
    review = Review(
        id=new_id("rev"),
        node="Gate",
        prompt="ok?",
        options=["approve", "reject"],
        payload={"text": "hi"},
        requested_at=now,
        assignees=assignees or ["bob"],
        deadline=now + timedelta(seconds=seconds),
        on_timeout="approve",
        remind_at=now + timedelta(seconds=seconds / 2),
    )
    await store.update_job(job.id, JobUpdate(status=JobStatus.WAITING_FOR_REVIEW, review=review))
    return job, review


def timeout_of(review: Review) -> Decision:
    return Decision(review.id, "approve", None, "genflow", "timeout")


def decided_event(by: str) -> NewEvent:
    return NewEvent(EventType.REVIEW_DECIDED, {"by": by})


async def test_reviewers_and_assignees_may_see_the_job(store: SQLStore) -> None:
    job, review = await parked(store, assignees=["dave"])
    assert await store.is_assignee(job.id, "bob")  # the job's reviewer, from creation
    assert await store.is_assignee(job.id, "dave")  # the review's, from when it opened
    assert not await store.is_assignee(job.id, "carol")
    assert [j.id for j in await store.list_jobs(owner=None, assignee="dave")] == [job.id]
    assert await store.list_jobs(owner=None, assignee="carol") == []
    stored = await store.get_job(job.id)
    assert stored is not None and stored.reviewers == ["bob"]
    assert stored.review is not None and stored.review.assignees == ["dave"]
    assert stored.review.deadline == review.deadline


async def test_the_timers_come_due_reminder_first_then_deadline(store: SQLStore) -> None:
    job, review = await parked(store, seconds=60)
    assert review.remind_at is not None and review.deadline is not None
    assert await store.due_reviews(review.remind_at - timedelta(seconds=1)) == []
    due = await store.due_reviews(review.remind_at)
    assert [(job_id, r.id) for job_id, r in due] == [(job.id, review.id)]
    reminder = NewEvent(EventType.REVIEW_REMINDER, {"review_id": review.id})
    sent = await asyncio.gather(
        *(store.remind_review(job.id, review.id, reminder, now=review.remind_at) for _ in range(8))
    )
    assert sum(1 for s in sent if s) == 1, "one reminder, however many sweeps"
    assert await store.due_reviews(review.deadline - timedelta(seconds=1)) == []
    assert [r.id for _, r in await store.due_reviews(review.deadline)] == [review.id]
    early = await store.time_out_review(
        job.id, timeout_of(review), [decided_event("genflow")], cancel=False, now=review.remind_at
    )
    assert early is None, "not before the deadline"


async def test_of_racing_timeouts_and_a_decision_exactly_one_wins(store: SQLStore) -> None:
    for _ in range(3):
        await race_once(store)


async def race_once(store: SQLStore) -> None:
    job, review = await parked(store, seconds=60)
    past = review.deadline + timedelta(seconds=1)  # type: ignore[operator]

    async def person() -> str:
        try:
            await store.decide_review(
                job.id, Decision(review.id, "reject", None, "bob", "web"), decided_event("bob")
            )
            return "bob"
        except Conflict:
            return "refused"

    async def sweep(cancel: bool) -> str:
        events = [decided_event("genflow")]
        if cancel:
            events.append(NewEvent(EventType.JOB_CANCELLED, {"by": "genflow"}))
        done = await store.time_out_review(
            job.id, timeout_of(review), events, cancel=cancel, now=past
        )
        return "genflow" if done else "nothing"

    outcomes = await asyncio.gather(person(), *(sweep(i % 2 == 0) for i in range(8)))
    winners = [o for o in outcomes if o in ("bob", "genflow")]
    assert len(winners) == 1, outcomes
    events = await store.events_after(job.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    decided = [e for e in events if e.type is EventType.REVIEW_DECIDED]
    assert [e.data["by"] for e in decided] == winners
    stored = await store.get_job(job.id)
    assert stored is not None and stored.review is None
    assert stored.status in (JobStatus.RUNNING, JobStatus.CANCELLED)
    assert await store.due_reviews(past + timedelta(days=1)) == []
    (audited,) = await store.job_reviews(job.id)
    assert audited.decided_by == winners[0] and audited.decided_at is not None
