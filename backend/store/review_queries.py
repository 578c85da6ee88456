"""The SQL of review deadlines and the review audit, as functions of one connection.

A review with a deadline has one pending timer at a time in `reviews.due_at` (indexed):
its reminder, then its deadline; NULL once it was decided, timed out, or found closed.
Every write here locks the job's row before touching the review's (the order
`decide_review` uses), and re-checks under that lock that the review is still the job's
open, undecided one: so a reminder is appended once, and of a person's decision and the
deadline exactly one wins, however many sweeps run at once on however many processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from backend.domain import Job, JobStatus, Review
from backend.errors import Conflict
from backend.events import Event, NewEvent
from backend.store import queries as q
from backend.store import tables as t
from backend.store.base import Decision

WAITING = JobStatus.WAITING_FOR_REVIEW


def job_reviews(conn: Connection, job_id: str) -> list[Review]:
    query = (
        select(t.reviews)
        .where(t.reviews.c.job_id == job_id)
        .order_by(t.reviews.c.requested_at, t.reviews.c.id)
    )
    return [q.to_review(row) for row in conn.execute(query).mappings().all()]


def due_reviews(conn: Connection, now: datetime, limit: int) -> list[tuple[str, Review]]:
    query = (
        select(t.reviews)
        .where(t.reviews.c.due_at <= now)
        .order_by(t.reviews.c.due_at, t.reviews.c.id)
        .limit(limit)
    )
    return [(row["job_id"], q.to_review(row)) for row in conn.execute(query).mappings().all()]


def remind_review(
    conn: Connection, job_id: str, review_id: str, event: NewEvent, now: datetime
) -> list[Event] | None:
    review_row = _open_review_row(conn, job_id, review_id)
    if review_row is None:
        return None
    remind_at = q.aware(review_row["remind_at"])
    if review_row["reminded_at"] is not None or remind_at is None or remind_at > now:
        return None  # sent already (another sweep), or not due
    conn.execute(
        update(t.reviews)
        .where(t.reviews.c.id == review_id)
        .values(reminded_at=now, due_at=review_row["deadline"])  # next: the deadline
    )
    return q.append_events(conn, job_id, [event], None, [WAITING])


def time_out_review(
    conn: Connection,
    job_id: str,
    decision: Decision,
    events: Sequence[NewEvent],
    cancel: bool,
    now: datetime,
) -> tuple[Job, list[Event]] | None:
    review_row = _open_review_row(conn, job_id, decision.review_id)
    if review_row is None:
        return None
    deadline = q.aware(review_row["deadline"])
    if deadline is None or deadline > now:
        return None
    if not cancel:
        return q.decide_review(conn, job_id, decision, events[0])
    q.record_decision(conn, decision)
    return _cancel_waiting(conn, job_id, events)


def _open_review_row(conn: Connection, job_id: str, review_id: str) -> Any:
    """The review's row while it is the job's open, undecided review (the job's row
    locked first); None otherwise, after dropping its pending timer."""
    try:
        _, review_row = q.lock_open_review(conn, job_id, review_id)
    except Conflict:
        conn.execute(
            update(t.reviews)
            .where(t.reviews.c.id == review_id, t.reviews.c.due_at.is_not(None))
            .values(due_at=None)
        )
        return None
    return review_row


def _cancel_waiting(
    conn: Connection, job_id: str, events: Sequence[NewEvent]
) -> tuple[Job, list[Event]] | None:
    row = (
        conn.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, t.jobs.c.status == WAITING.value)
            .values(
                status=JobStatus.CANCELLED.value,
                review_id=None,
                current_node=None,
                last_seq=t.jobs.c.last_seq + len(events),
                updated_at=q.utcnow(),
                **q.NO_LEASE,
            )
            .returning(*t.jobs.c)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    stored = q.append(conn, job_id, row["last_seq"] - len(events), row["progress"], events)
    return q.to_job(conn, row), stored
