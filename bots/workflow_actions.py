"""Clicks on a workflow's summary: *Run* opens the input form, whose submission runs the
workflow; *Open in web* is a link (Slack still sends the click, so it is acked).

A click acks at once; the form must open within the click's 3 s, so the workflow is read
under a budget, acting for the clicker: GenFlow shows a workflow to whoever drafted it
(and admins) only, so anyone else is told it is not theirs to run. The run is the
clicker's job: they decide its reviews, and so do the configured reviewers
(GENFLOW_SLACK_REVIEWERS) when it asks for any. Problems (not theirs, placeholders to fill in, a
422 from executing) go to the clicker only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from backend.client import APIError
from bots import texts
from bots.bot import SlackBot
from bots.people import SlackUser, from_interaction
from bots.workflow_blocks import OPEN_ACTION, RUN_ACTION
from bots.workflow_bot import job_title
from bots.workflow_forms import RUN_CALLBACK, FormError, run_modal, submitted
from bots.workflow_texts import not_run, placeholders, problems

log = logging.getLogger("genflow.slack")
READ_BUDGET = 2.0  # seconds to read the workflow before views.open (triggers last 3 s)


def register(app: AsyncApp, bot: SlackBot) -> None:
    async def on_run(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        workflow_id = json.loads(action.get("value") or "{}").get("workflow")
        if not workflow_id:
            return
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
        user = from_interaction(body)
        problem = await _open_form(bot, client, body["trigger_id"], workflow_id, channel, user)
        if problem:
            await respond(text=problem, response_type="ephemeral", replace_original=False)

    async def on_open(ack: AsyncAck) -> None:
        await ack()  # the browser opens the link; nothing to do here

    async def on_submit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        values = (view.get("state") or {}).get("values") or {}
        try:
            data = submitted(meta, values)
        except FormError as exc:
            await ack(response_action="errors", errors=exc.errors)
            return
        await ack()  # closes the form; the job's message shows the rest
        user = from_interaction(body)
        title = job_title(meta.get("name") or meta["workflow"], data)
        try:
            _, note = await bot.workflows.run(meta["workflow"], data, title, meta["channel"], user)
        except APIError as exc:
            note = problems(exc)
        except Exception as exc:  # a surprise: the person still hears that it did not run
            log.error("running workflow %s failed", meta["workflow"], exc_info=exc)
            note = texts.api_error(exc, "run the workflow")
        if note and meta.get("channel"):
            try:
                await client.chat_postEphemeral(channel=meta["channel"], user=user.user, text=note)
            except SlackApiError as exc:
                log.warning("cannot tell %s: %s", user.user, exc.response.get("error"))

    app.action(RUN_ACTION)(on_run)
    app.action(OPEN_ACTION)(on_open)
    app.view(RUN_CALLBACK)(on_submit)


async def _open_form(
    bot: SlackBot,
    client: AsyncWebClient,
    trigger_id: str,
    workflow_id: str,
    channel: str,
    user: SlackUser,
) -> str | None:
    """Open the Run form; what to tell the clicker when that is not possible."""
    try:
        workflow = await asyncio.wait_for(bot.person(user).workflow(workflow_id), READ_BUDGET)
    except TimeoutError:
        return ":hourglass: GenFlow is slow to answer right now; please click *Run* again."
    except APIError as exc:
        return not_run(exc)
    found = (workflow.get("validation") or {}).get("placeholders") or []
    if found:
        return placeholders(found, bot.config.workflow_url(workflow_id))
    try:
        view = run_modal(workflow, channel=channel)
    except ValueError as exc:
        return f":information_source: {exc}"
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        log.warning("views.open failed: %s", exc.response.get("error"))
        return ":warning: I could not open the form; please click *Run* again."
    return None
