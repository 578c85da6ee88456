"""Review buttons and their modals: the comment (Reject / Revise) and the Edit form.

A click acks at once. The bot does not judge who may decide: the decision is sent acting
for the clicker (`via="slack"`), and GenFlow's one rule allows it or not; a refusal is
told to the clicker alone, naming who may decide (the starter and the review's
assignees), and the message does not change. A form opens only for a review GenFlow
shows the clicker as still open and theirs to decide (the job's `may_decide`). The
message itself changes when the follower sees `review.decided`, whichever surface
decided, so a Slack click and a web decision look the same. Problems (not allowed,
already decided, GenFlow down) go to the clicker only, as ephemeral messages.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.blocks import (
    ACTION_PREFIX,
    COMMENT_BLOCK,
    COMMENT_INPUT,
    MODAL_CALLBACK,
    NEEDS_COMMENT,
    decision_modal,
)
from bots.bot import SlackBot
from bots.edit_form import EDIT_CALLBACK, edit_modal, typed
from bots.edits import EDIT
from bots.people import SlackUser, from_interaction
from bots.session_forms import FormError

log = logging.getLogger("genflow.slack")


def register(app: AsyncApp, bot: SlackBot) -> None:
    async def on_button(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        value = json.loads(action.get("value") or "{}")
        job_id, review_id, decision = value.get("job"), value.get("review"), value.get("decision")
        user = from_interaction(body)
        if not (job_id and review_id and decision):
            return
        if decision in NEEDS_COMMENT or decision == EDIT:
            problem = await _open_form(bot, client, body, job_id, review_id, decision, user)
        else:
            problem = await bot.decide(job_id, review_id, decision, user)
        if problem:
            await respond(text=problem, response_type="ephemeral", replace_original=False)

    async def on_comment(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        meta = json.loads(view.get("private_metadata") or "{}")
        user = from_interaction(body)
        values = (view.get("state") or {}).get("values") or {}
        comment = ((values.get(COMMENT_BLOCK) or {}).get(COMMENT_INPUT) or {}).get("value")
        problem = await bot.decide(meta["job"], meta["review"], meta["decision"], user, comment)
        await _tell(client, meta, user, problem)

    async def on_edit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        try:
            texts = typed(meta, (view.get("state") or {}).get("values") or {})
        except FormError as exc:
            await ack(response_action="errors", errors=exc.errors)
            return
        await ack()  # closes the form; the message shows the decision
        user = from_interaction(body)
        problem = await bot.edit(meta["job"], meta["review"], texts, user)
        await _tell(client, meta, user, problem)

    app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(on_button)
    app.view(MODAL_CALLBACK)(on_comment)
    app.view(EDIT_CALLBACK)(on_edit)


async def _open_form(
    bot: SlackBot,
    client: AsyncWebClient,
    body: dict[str, Any],
    job_id: str,
    review_id: str,
    decision: str,
    user: SlackUser,
) -> str | None:
    """Open the comment or Edit form for the review as GenFlow shows it to `user`; what
    to tell them when that is not possible."""
    review, problem = await bot.open_review(job_id, review_id, user)
    if review is None:
        return problem
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    ts = container.get("message_ts")
    if decision == EDIT:
        try:
            view = edit_modal(job_id, review, channel=channel, ts=ts)
        except ValueError as exc:
            return f":information_source: {exc}"
    else:
        view = decision_modal(
            job_id=job_id,
            review_id=review_id,
            decision=decision,
            channel=channel,
            ts=ts,
            prompt="Tell the model what to change; it will try again with your comment.",
        )
    try:
        await client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        log.warning("views.open failed: %s", exc.response.get("error"))
        return ":warning: I could not open the form; please click again."
    return None


async def _tell(
    client: AsyncWebClient, meta: dict[str, Any], user: SlackUser, problem: str | None
) -> None:
    """What went wrong with a submitted form, to its submitter alone, where they clicked."""
    if not problem or not meta.get("channel"):
        return
    try:
        await client.chat_postEphemeral(channel=meta["channel"], user=user.user, text=problem)
    except SlackApiError as exc:
        log.warning("cannot tell %s: %s", user.user, exc.response.get("error"))
