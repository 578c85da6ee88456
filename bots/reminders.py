"""A review's reminder in Slack: at half of its time GenFlow emits `review.reminder`, and
the job's follower posts ONE reply in the thread of the job's message that mentions the
review's Slack assignees and the starter, and says when it is due and what happens then.

Once, across restarts: a restarted bot replays the job's events, reminder included, so
what was posted is recorded in the bot's store first (`claim_reminder`), as artifacts
are. A replayed reminder of a review that is no longer open (decided, or timed out while
the bot was down) is not posted at all: it would ask for a decision already made.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from backend.client import APIError, GenFlowClient
from bots import texts
from bots.people import mention, slack_user_id
from bots.store import BotStore, JobMessage

log = logging.getLogger("genflow.slack")


class Reminders:
    def __init__(self, genflow: GenFlowClient, slack: AsyncWebClient, store: BotStore) -> None:
        self.genflow, self.slack, self.store = genflow, slack, store

    async def post(self, record: JobMessage, data: dict[str, Any]) -> bool:
        """Post the reminder `data` (a `review.reminder` event's) once; True if posted now.
        Failures are logged, not raised."""
        review_id = data.get("review_id")
        if not review_id or record.ts is None:
            return False
        review = await self._open_review(record.job_id, review_id)
        if review is None or not await self.store.claim_reminder(record.job_id, review_id):
            return False
        assignees = data.get("assignees") or review.get("assignees") or []
        people = [mention(a) for a in assignees if slack_user_id(a)] + [f"<@{record.user_id}>"]
        text = texts.reminder(
            people,
            data.get("deadline") or review.get("deadline"),
            data.get("on_timeout") or review.get("on_timeout"),
        )
        try:
            await self.slack.chat_postMessage(
                channel=record.channel, thread_ts=record.ts, text=text
            )
        except Exception as exc:  # Slack refused or is unreachable: a replay may try again
            log.warning("could not post the reminder of %s: %r", record.job_id, exc)
            await self.store.release_reminder(review_id)
            return False
        log.info("reminded %s about review %s of %s", people, review_id, record.job_id)
        return True

    async def _open_review(self, job_id: str, review_id: str) -> dict[str, Any] | None:
        """The review, if it is still the job's open one."""
        try:
            job = await self.genflow.job(job_id)
        except APIError as exc:
            log.warning("cannot check the review of %s before reminding: %s", job_id, exc)
            return None
        review = job.get("review") or {}
        if job.get("status") != "waiting_for_review" or review.get("id") != review_id:
            return None
        return review
