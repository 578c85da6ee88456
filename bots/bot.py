"""`SlackBot`: the bot's parts (GenFlow client, Slack client, store) and its jobs (its
GenFlow sessions are `self.sessions`, a `SessionBot`; its pilot workflows
`self.workflows`, a `WorkflowBot`).

Starting a job, posting its one message, following it until it ends, and deciding its
reviews all go through here; `commands.py` and `actions.py` only translate Slack
requests into these calls. `resume()` picks up every unfinished job after a restart.

What a Slack user does is sent acting for them (`person()`: the API's one rule decides
whose job it is and who may decide); following a job to show it in a channel is the
bot's own business, with its own token.
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
from bots.edits import changes
from bots.follower import JobFollower
from bots.people import SlackUser
from bots.posting import post_where_seen
from bots.reminders import Reminders
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
        self.reminders = Reminders(genflow, slack, store)
        self._asks_for_review: dict[str, bool] = {}  # flow name -> has review options
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

    def person(self, user: SlackUser) -> GenFlowClient:
        """The API client acting for a Slack user (a view: never closed)."""
        return self.genflow.acting_for(user.principal)

    async def start_job(
        self, flow: str, input_: dict[str, Any], title: str, channel: str, user: SlackUser
    ) -> tuple[JobMessage, str | None]:
        """Create the job as `user`'s (with the configured reviewers), post its message,
        follow it. Returns the record and a note for the user when the message had to go
        somewhere else than `channel`."""
        reviewers = await self.reviewers.of_job(user) if await self._reviewed(flow) else None
        job = await self.person(user).create_job(flow, input_, reviewers=reviewers or None)
        return await self.show_job(job["id"], flow, title, channel, user.user)

    async def _reviewed(self, flow: str) -> bool:
        """Whether the flow asks for reviews (GenFlow refuses reviewers for one that does
        not); only asked when reviewers are configured."""
        if not self.reviewers:
            return False
        if flow not in self._asks_for_review:
            flows = await self.genflow.flows()
            self._asks_for_review = {f["name"]: bool(f.get("review_options")) for f in flows}
        return self._asks_for_review.get(flow, False)

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

    async def open_review(
        self, job_id: str, review_id: str, user: SlackUser
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The review as GenFlow shows it to `user` before a form opens for it: (review,
        None), or (None, what to tell them: no longer open, or not theirs to decide, as
        GenFlow answers it: the job's `may_decide`, the decide route's own rule)."""
        try:
            job = await self.person(user).job(job_id)
        except APIError as exc:
            return None, await self._refused(job_id, review_id, exc, "open the form")
        review = job.get("review")
        if job.get("status") != "waiting_for_review" or (review or {}).get("id") != review_id:
            return None, texts.NO_LONGER_OPEN
        if job.get("may_decide") is not True:  # they see the job; this review is not theirs
            return None, await self._not_allowed(job_id, review_id)
        return review, None

    async def decide(
        self,
        job_id: str,
        review_id: str,
        decision: str,
        user: SlackUser,
        comment: str | None = None,
        edits: dict[str, Any] | None = None,
    ) -> str | None:
        """Send a Slack user's decision, acting for them; None on success, else what to
        tell them (GenFlow refused it, someone was first, GenFlow is down)."""
        try:
            await self.person(user).decide(
                job_id, review_id, decision, comment=comment, via="slack", edits=edits
            )
        except APIError as exc:
            if exc.status == 409:
                return texts.conflict(exc)
            return await self._refused(job_id, review_id, exc, "record your decision")
        return None

    async def edit(
        self, job_id: str, review_id: str, typed: dict[str, str], user: SlackUser
    ) -> str | None:
        """Send the fields `user` changed in the Edit form as an `edit` decision."""
        review, problem = await self.open_review(job_id, review_id, user)
        if review is None:
            return problem
        changed = changes(review.get("payload") or {}, typed)
        if not changed:
            return texts.unchanged()
        return await self.decide(job_id, review_id, "edit", user, edits=changed)

    async def _refused(self, job_id: str, review_id: str, exc: APIError, doing: str) -> str:
        """What to tell a person GenFlow refused: 403 (not an assignee), or 404 for a job
        the bot still sees (not theirs to see) is "not yours", with who may decide;
        anything else as it is."""
        if exc.status not in (403, 404):
            return texts.api_error(exc, doing)
        try:
            audit = await self.genflow.reviews(job_id)  # the bot's own view of the job
        except APIError:
            if exc.status == 404:
                return texts.api_error(exc, doing)  # gone for everyone
            audit = {}
        return await self._not_allowed(job_id, review_id, audit)

    async def _not_allowed(
        self, job_id: str, review_id: str, audit: dict[str, Any] | None = None
    ) -> str:
        """What to tell someone GenFlow does not let decide the review: who may, the
        person who started the job and the review's assignees, as its request holds them
        (the review audit, read with the bot's own token: the clicker may not see the job
        at all). The bot only words GenFlow's refusal; the rule is the API's."""
        if audit is None:
            try:
                audit = await self.genflow.reviews(job_id)
            except APIError:
                audit = {}
        asked = [r for r in audit.get("reviews") or [] if r.get("review_id") == review_id]
        assignees = [str(a) for a in (asked[0].get("assignees") or [])] if asked else []
        record = await self.store.job(job_id)
        starter = f"<@{record.user_id}>" if record else None
        if starter is None and audit.get("owner"):
            starter = texts.who(str(audit["owner"]))
        return texts.not_allowed(starter, assignees)
