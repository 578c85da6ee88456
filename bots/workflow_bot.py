"""`WorkflowBot`: the Slack bot's pilot workflows — draft one for `/workflow PROMPT` into
one message, and run one as an ordinary job.

Drafting is one long API call (the model writes, GenFlow validates and repairs), so it
runs as a task after the command was acked: the message says "Drafting…" at once and is
edited into the workflow's summary, or into why there is none. A run is
`execute_workflow` and then the bot's job machinery (`SlackBot.show_job`): the same
message, progress, review buttons and follower as every job. Both act for the Slack user
who asked: the workflow and its runs are theirs (GenFlow shows them to nobody else but
admins, and a run that asks for reviews to its reviewers: GENFLOW_SLACK_REVIEWERS, as for
every job started from Slack).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from backend.client import APIError
from bots.markdown import truncate
from bots.people import SlackUser
from bots.posting import post_where_seen
from bots.store import JobMessage
from bots.workflow_blocks import Message, drafting_message, failed_message, summary_message
from bots.workflow_store import FAILED, READY, WorkflowDraft
from bots.workflow_texts import not_drafted

if TYPE_CHECKING:
    from bots.bot import SlackBot

log = logging.getLogger("genflow.slack")
INTERRUPTED = (
    ":warning: The bot restarted while this workflow was being drafted, so its answer "
    "was lost. Please ask again."
)
Tell = Callable[[str, list[dict[str, Any]] | None], Awaitable[None]]  # text, blocks


class WorkflowBot:
    def __init__(self, bot: SlackBot) -> None:
        self.bot = bot
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def resume(self) -> int:
        """Drafts the bot was waiting for when it stopped: their messages say so."""
        drafts = await self.bot.store.workflows.drafting()
        for draft in drafts:
            if draft.ts is not None:
                await self._update(draft, failed_message(draft.prompt, draft.user_id, INTERRUPTED))
            await self.bot.store.workflows.finish(draft.id, FAILED)
        return len(drafts)

    # -- drafting ----------------------------------------------------------------------

    def draft(self, prompt: str, channel: str, user: SlackUser, tell: Tell) -> None:
        """Start drafting in the background (the command is acked already)."""
        task = asyncio.create_task(self._draft(prompt, channel, user, tell), name="slack-draft")
        self._tasks.add(task)
        task.add_done_callback(self._drafted)

    def _drafted(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("drafting a workflow crashed", exc_info=task.exception())

    async def _draft(self, prompt: str, channel: str, person: SlackUser, tell: Tell) -> None:
        store, user = self.bot.store.workflows, person.user
        draft_id = await store.add(prompt, channel, user)
        draft = await self._post(draft_id, drafting_message(prompt, user), tell)
        try:
            made = await self.bot.person(person).generate_workflow(prompt)
        except Exception as exc:  # an APIError, or a surprise: either way, say so
            if not isinstance(exc, APIError):
                log.error("drafting a workflow failed", exc_info=exc)
            await store.finish(draft_id, FAILED)
            await self._show(draft, failed_message(prompt, user, not_drafted(exc)), tell)
            return
        await store.finish(draft_id, READY, made.get("workflow_id"))
        url = self.bot.config.workflow_url(str(made.get("workflow_id")))
        await self._show(draft, summary_message(made, user, url), tell)
        log.info("%s drafted %s in %s", user, made.get("workflow_id"), draft.channel)

    async def _post(self, draft_id: int, message: Message, tell: Tell) -> WorkflowDraft:
        """Post the draft's message in its channel, or in a DM when the bot is not a
        member; when it can be posted nowhere, the person is answered privately."""
        store = self.bot.store.workflows
        draft = await store.get(draft_id)
        assert draft is not None
        text, blocks = message
        posted = await post_where_seen(
            self.bot.slack,
            draft.channel,
            draft.user_id,
            text,
            blocks,
            what="a workflow draft",
            moved="the workflow comes",
        )
        if posted is not None:
            if posted.note:
                await tell(posted.note, None)
            await store.set_message(draft_id, posted.channel, posted.ts)
        updated = await store.get(draft_id)
        assert updated is not None
        return updated

    async def _show(self, draft: WorkflowDraft, message: Message, tell: Tell) -> None:
        if draft.ts is None or not await self._update(draft, message):
            await tell(*message)  # no message of its own: the person still sees it

    async def _update(self, draft: WorkflowDraft, message: Message) -> bool:
        text, blocks = message
        await self.bot.limiter.acquire()
        try:
            await self.bot.slack.chat_update(
                channel=draft.channel, ts=draft.ts, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            log.warning("chat.update of a workflow draft failed: %s", exc.response.get("error"))
            return False
        except Exception as exc:  # network trouble: the caller answers privately instead
            log.warning("chat.update of a workflow draft failed: %r", exc)
            return False
        return True

    # -- running -----------------------------------------------------------------------

    async def run(
        self,
        workflow_id: str,
        input_data: dict[str, Any],
        title: str,
        channel: str,
        user: SlackUser,
        *,
        workflow: dict[str, Any] | None = None,
    ) -> tuple[JobMessage, str | None]:
        """Execute the workflow as `user` (APIError 422: the input or its placeholders are
        wrong; 404: not theirs) and show the job like every job: its message, followed to
        the end. `workflow` is the workflow as GenFlow just described it to `user`, if
        the caller read it (else it is read when reviewers are configured)."""
        person = self.bot.person(user)
        reviewers = await self._reviewers(workflow_id, workflow, user)
        job = await person.execute_workflow(workflow_id, input_data, reviewers=reviewers)
        return await self.bot.show_job(job["id"], "workflow", title, channel, user.user)

    async def _reviewers(
        self, workflow_id: str, workflow: dict[str, Any] | None, user: SlackUser
    ) -> list[str] | None:
        """GENFLOW_SLACK_REVIEWERS as the run's reviewers, as for every job started from
        Slack, when the workflow asks for reviews: GenFlow describes a workflow with its
        review nodes' `review_options` (as it describes a flow), and refuses reviewers
        (422) for a run that asks for none."""
        if not self.bot.reviewers:
            return None
        if workflow is None:
            workflow = await self.bot.person(user).workflow(workflow_id)
        if not workflow.get("review_options"):
            return None
        return await self.bot.reviewers.of_job(user) or None


def job_title(name: str, input_data: dict[str, Any]) -> str:
    """`Article with approval (topic: tea)`: the run's message says what it was given."""
    given = ", ".join(
        f"{key}: {value if isinstance(value, str) else json.dumps(value)}"
        for key, value in input_data.items()
    )
    return truncate(f"{name} ({' '.join(given.split())})" if given else name, 200)
