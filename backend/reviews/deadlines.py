"""Review deadlines: the sweep that sends half-time reminders and applies passed deadlines.

Nothing waits in memory for a deadline. Each review's next pending timer is a row in the
store (`reviews.due_at`, indexed), and a periodic sweep takes the due ones: in the
server process with the local queue (a task started with the app, which sweeps at once
on start, so a deadline that passed while the server was down is applied as it comes
back), and with procrastinate as a periodic task on the workers (deferred once per
period however many workers run). Any number of sweeps may run at once: the store
appends a reminder only while it is unsent, and applies a deadline as the review's
decision only while no decision was made (`decide_review`'s first-decision-wins, under
the job's row lock). A decision made just before the deadline wins; the sweep then
changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from backend.domain import Review, isoformat, utcnow
from backend.errors import StoreUnavailable
from backend.events import EventType, NewEvent
from backend.reviews.terms import CANCEL, TIMEOUT_BY
from backend.runtime.bus import EventBus
from backend.runtime.queues import JobQueue
from backend.store.base import Decision, Store

log = logging.getLogger(__name__)
BATCH = 100  # due reviews read at once
ROUNDS = 20  # batches per sweep at most (the rest wait for the next sweep)


class ReviewDeadlines:
    def __init__(self, *, store: Store, bus: EventBus, queue: JobQueue) -> None:
        self.store, self.bus, self.queue = store, bus, queue

    async def sweep(self, now: datetime | None = None) -> tuple[int, int]:
        """Send the due reminders and apply the passed deadlines: (reminders, timeouts)
        this sweep made. Raises StoreUnavailable when the database fails."""
        now = now or utcnow()
        reminded = timed_out = 0
        for _ in range(ROUNDS):
            due = await self.store.due_reviews(now, BATCH)
            for job_id, review in due:
                try:
                    if review.deadline is not None and review.deadline <= now:
                        timed_out += await self._time_out(job_id, review, now)
                    else:
                        reminded += await self._remind(job_id, review, now)
                except StoreUnavailable:
                    raise
                except Exception:  # one review's trouble must not stop the others
                    log.exception(
                        "review %s of job %s: the deadline sweep failed", review.id, job_id
                    )
            if len(due) < BATCH:
                break
        return reminded, timed_out

    async def _remind(self, job_id: str, review: Review, now: datetime) -> int:
        event = NewEvent(
            EventType.REVIEW_REMINDER,
            {
                "review_id": review.id,
                "node": review.node,
                "assignees": list(review.assignees),
                "deadline": isoformat(review.deadline) if review.deadline else None,
                "on_timeout": review.on_timeout,
                "reminded_at": isoformat(now),
            },
            ts=now,
        )
        stored = await self.store.remind_review(job_id, review.id, event, now=now)
        if not stored:
            return 0
        self.bus.publish(stored)
        return 1

    async def _time_out(self, job_id: str, review: Review, now: datetime) -> int:
        action = review.on_timeout if review.on_timeout in review.options else CANCEL
        cancel = action == CANCEL
        decided = {
            "review_id": review.id,
            "decision": action,
            "comment": None,
            "by": TIMEOUT_BY,
            "via": "timeout",
            "deadline": isoformat(review.deadline) if review.deadline else None,
        }
        events = [NewEvent(EventType.REVIEW_DECIDED, decided, ts=now)]
        if cancel:
            events.append(NewEvent(EventType.JOB_CANCELLED, {"by": TIMEOUT_BY}, ts=now))
        saved = await self.store.time_out_review(
            job_id,
            Decision(
                review_id=review.id, decision=action, comment=None, by=TIMEOUT_BY, via="timeout"
            ),
            events,
            cancel=cancel,
            now=now,
        )
        if saved is None:
            return 0  # a decision came first, or the job ended: nothing to do
        self.bus.publish(saved[1])
        if cancel:
            self.queue.cancel(job_id)
        else:
            await self.queue.enqueue(job_id)
        log.info("job %s: review %s timed out: %s", job_id, review.id, action)
        return 1


async def sweep_forever(deadlines: ReviewDeadlines, every: float) -> None:
    """The local queue's sweeper: at once (a restart applies what passed while the server
    was down), then every `every` seconds; a failing database delays it, never ends it."""
    while True:
        try:
            reminded, timed_out = await deadlines.sweep()
            if reminded or timed_out:
                log.info("review deadlines: %d reminder(s), %d timeout(s)", reminded, timed_out)
        except StoreUnavailable:
            pass  # next time
        except Exception:
            log.exception("the review deadline sweep failed")
        await asyncio.sleep(every)
