"""`/workflow`: draft a pilot workflow from a request, or run a stored one.

- `/workflow WHAT IT SHOULD DO` acks at once ("Drafting a workflow…": the model takes a
  while) and leaves the drafting to `WorkflowBot`, which keeps one message for it.
- `/workflow run wf_… key=value…` runs a stored workflow like `/flow` starts a job:
  acked with the outcome when it started within the ack budget, else through the
  response_url. A 422 (wrong input, placeholders not filled in) is answered with the
  problems in words, privately.
- `/workflow` or `/workflow help`: the usage, privately.

`run` only means "run" when an id (`wf_…`) follows, so `/workflow run a weekly report`
is still a request to draft.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from backend.client import APIError
from bots import texts
from bots.bot import SlackBot
from bots.commands import ack_when_started
from bots.markdown import CURLY_QUOTES, escape, truncate
from bots.people import SlackUser, from_command
from bots.store import JobMessage
from bots.workflow_bot import job_title
from bots.workflow_inputs import input_data, input_fields, parse_pairs
from bots.workflow_texts import USAGE, not_run, problems

log = logging.getLogger("genflow.slack")
HELP = ("", "help", "-h", "--help")


class RunRefused(Exception):
    """GenFlow would not run it; the message is what to tell the person."""


def register(app: AsyncApp, bot: SlackBot) -> None:
    app.command("/workflow")(_handler(bot))


def _handler(bot: SlackBot) -> Callable[..., Awaitable[None]]:
    async def handle(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        text = (body.get("text") or "").translate(CURLY_QUOTES).strip()
        words = text.split(maxsplit=2)
        if not words or (len(words) == 1 and words[0].lower() in HELP):
            await ack(USAGE)
            return
        if words[0].lower() == "run" and (len(words) == 1 or _is_id(words[1])):
            if len(words) == 1:
                await ack("Which workflow? `/workflow run wf_… key=value …`\n\n" + USAGE)
                return
            rest = words[2] if len(words) > 2 else ""
            await _run(bot, ack, respond, body, words[1].strip("`"), rest)
            return
        prompt = " ".join(text.split())
        await ack(
            f"Drafting a workflow for “{escape(truncate(prompt, 80))}”… The model may take a "
            "while; its message here shows the workflow when it is ready."
        )

        async def tell(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
            await respond(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=False
            )

        bot.workflows.draft(prompt, body["channel_id"], from_command(body), tell)

    return handle


def _is_id(word: str) -> bool:
    return word.strip("`").startswith("wf_")


async def _run(
    bot: SlackBot,
    ack: AsyncAck,
    respond: AsyncRespond,
    body: dict[str, Any],
    workflow_id: str,
    pairs_text: str,
) -> None:
    try:
        pairs = parse_pairs(pairs_text)
    except ValueError as exc:
        await ack(f":warning: {exc}. Usage: `/workflow run {workflow_id} key=value …`")
        return
    start = asyncio.create_task(
        _start(bot, workflow_id, pairs, body["channel_id"], from_command(body))
    )
    waiting = f"Starting workflow `{escape(workflow_id)}`…"
    await ack_when_started(ack, respond, start, waiting, _outcome)


async def _start(
    bot: SlackBot, workflow_id: str, pairs: dict[str, str], channel: str, user: SlackUser
) -> tuple[JobMessage, str | None]:
    """Read the workflow as `user` (its inputs say how to read the values), then run it."""
    try:
        workflow = await bot.person(user).workflow(workflow_id)
    except APIError as exc:
        raise RunRefused(not_run(exc)) from exc
    spec = workflow.get("workflow") or {}
    fields = input_fields(spec)
    data = input_data(pairs, fields)
    title = job_title(str(spec.get("name") or workflow_id), data)
    try:
        return await bot.workflows.run(workflow_id, data, title, channel, user, workflow=workflow)
    except APIError as exc:
        raise RunRefused(problems(exc, fields)) from exc


def _outcome(start: asyncio.Task[tuple[JobMessage, str | None]]) -> str:
    exc = start.exception()
    if isinstance(exc, RunRefused):
        log.info("a workflow did not run: %s", exc.__cause__)
        return str(exc)
    if exc is not None:
        log.error("running a workflow failed", exc_info=exc)
        return texts.api_error(exc, "run the workflow")
    record, note = start.result()
    return f"Started the workflow (`{record.job_id}`). " + (
        note or "I'll keep its message here up to date."
    )
