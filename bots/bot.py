"""`SlackBot`: the bot's parts (GenFlow client, Slack client, store) and its jobs (its
GenFlow sessions are `self.sessions`, a `SessionBot`; its pilot workflows
`self.workflows`, a `WorkflowBot`).

Starting a job, posting its one message, following it until it ends, and deciding its
reviews all go through here; `commands.py` and `actions.py` only translate Slack
requests into these calls. `resume()` picks up every unfinished job after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from backend.client import APIError, GenFlowClient
from bots import texts
from bots.artifacts import ArtifactPoster
from bots.blocks import job_message
from bots.config import SlackConfig
from bots.follower import JobFollower
from bots.posting import post_where_seen
from bots.reviewers import Reviewers
from bots.session_bot import SessionBot
from bots.store import BotStore, JobMessage
from bots.throttle import RateLimiter
from bots.view import MessageView
from bots.workflow_bot import WorkflowBot

log = logging.getLogger("genflow.slack")


class SlackBot:
    def __init__(
        self,
        config: SlackConfig,
        genflow: GenFlowClient,
        slack: AsyncWebClient,
        store: BotStore,
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.config, self.genflow, self.slack, self.store = config, genflow, slack, store
        self.limiter = limiter or RateLimiter()
        self.reviewers = Reviewers(slack, config.reviewers)
        self.poster = ArtifactPoster(genflow, slack, store)
        self.followers: dict[str, asyncio.Task[None]] = {}
        self.sessions = SessionBot(self)  # `/session`: GenFlow sessions (session_bot.py)
        self.workflows = WorkflowBot(self)  # `/workflow`: pilot workflows (workflow_bot.py)

    async def close(self) -> None:
        """Stop following (the store remembers what is unfinished) and close the clients."""
        tasks = list(self.followers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.sessions.close()
        await self.workflows.close()
        await self.genflow.close()
        await self.store.close()

    # -- jobs ----------------------------------------------------------------------------

    async def start_job(
        self, flow: str, input_: dict[str, Any], title: str, channel: str, user: str
    ) -> tuple[JobMessage, str | None]:
        """Create the job, post its message, follow it. Returns the record and a note for
        the user when the message had to go somewhere else than `channel`."""
        job = await self.genflow.create_job(flow, input_)
        return await self.show_job(job["id"], flow, title, channel, user)

    async def show_job(
        self, job_id: str, flow: str, title: str, channel: str, user: str
    ) -> tuple[JobMessage, str | None]:
        """Post the message of a job that exists already (a workflow's execution, created
        by `execute_workflow`) and follow it, like every job the bot started."""
        await self.store.add_job(job_id, flow, title, channel, user)
        record = await self.store.job(job_id)
        assert record is not None
        record, note = await self._post(record)
        if record.ts is not None:
            self.follow(record)
        log.info("%s started %s (%s) in %s", user, job_id, flow, record.channel)
        return record, note

    async def resume(self) -> int:
        """Follow every job (and GenFlow session) this bot posted that had not finished
        when it stopped; returns the number of jobs."""
        await self.sessions.resume()
        await self.workflows.resume()
        records = await self.store.unfinished()
        for record in records:
            if record.ts is None:
                record, _ = await self._post(record)
            if record.ts is not None:
                self.follow(record)
        if records:
            log.info("resumed following %d unfinished job(s)", len(records))
        return len(records)

    def follow(self, record: JobMessage) -> None:
        if record.job_id in self.followers:
            return
        view = MessageView(record.job_id, record.flow, record.title, record.user_id)
        task = asyncio.create_task(
            JobFollower(self, record, view).run(), name=f"slack-follow-{record.job_id}"
        )
        self.followers[record.job_id] = task
        task.add_done_callback(lambda t: self._followed(record.job_id, t))

    def _followed(self, job_id: str, task: asyncio.Task[None]) -> None:
        self.followers.pop(job_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("following %s crashed", job_id, exc_info=task.exception())

    async def _post(self, record: JobMessage) -> tuple[JobMessage, str | None]:
        """Post the job's message in its channel, or in a DM when the bot is not a member."""
        view = MessageView(record.job_id, record.flow, record.title, record.user_id)
        text, blocks = job_message(view, self.config.job_url(record.job_id))
        posted = await post_where_seen(
            self.slack, record.channel, record.user_id, text, blocks, what=record.job_id
        )
        if posted is not None:
            await self.store.set_message(record.job_id, posted.channel, posted.ts)
            updated = await self.store.job(record.job_id)
            assert updated is not None
            return updated, posted.note
        await self.store.mark_done(record.job_id)  # nowhere to show it; the web UI still can
        return record, "I could not post the job's message in Slack; follow it in the web UI."

    # -- reviews -------------------------------------------------------------------------

    async def may_decide(self, user: str, job_id: str) -> tuple[bool, str | None]:
        record = await self.store.job(job_id)
        starter = record.user_id if record else None
        return await self.reviewers.may_decide(user, starter), starter

    async def decide(
        self, job_id: str, review_id: str, decision: str, user: str, comment: str | None = None
    ) -> str | None:
        """Send a Slack user's decision; None on success, else what to tell them."""
        try:
            await self.genflow.decide(
                job_id, review_id, decision, comment=comment, via="slack", by=f"slack:{user}"
            )
        except APIError as exc:
            if exc.status == 409:
                return texts.conflict(exc)
            return texts.api_error(exc, "record your decision")
        return None
