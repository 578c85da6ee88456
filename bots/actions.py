"""Review buttons and the comment modal.

A click acks at once, checks that the clicker may decide, then sends the decision with
`via="slack"` and `by="slack:U…"`. Reject / Revise first open a modal for a comment.
The message itself changes when the follower sees `review.decided`, whichever surface
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

from bots import texts
from bots.blocks import (
    ACTION_PREFIX,
    COMMENT_BLOCK,
    COMMENT_INPUT,
    MODAL_CALLBACK,
    NEEDS_COMMENT,
    decision_modal,
)
from bots.bot import SlackBot

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
        user = body["user"]["id"]
        if not (job_id and review_id and decision):
            return

        async def tell(text: str) -> None:
            await respond(text=text, response_type="ephemeral", replace_original=False)

        allowed, starter = await bot.may_decide(user, job_id)
        if not allowed:
            await tell(texts.not_allowed(starter))
            return
        if decision in NEEDS_COMMENT:
            channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
                "channel_id", ""
            )
            view = decision_modal(
                job_id=job_id,
                review_id=review_id,
                decision=decision,
                channel=channel,
                ts=(body.get("container") or {}).get("message_ts"),
                prompt="Tell the model what to change; it will try again with your comment.",
            )
            try:
                await client.views_open(trigger_id=body["trigger_id"], view=view)
            except SlackApiError as exc:
                log.warning("views.open failed: %s", exc.response.get("error"))
                await tell(":warning: I could not open the comment form; please click again.")
            return
        problem = await bot.decide(job_id, review_id, decision, user)
        if problem:
            await tell(problem)

    async def on_modal(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        meta = json.loads(view.get("private_metadata") or "{}")
        user = body["user"]["id"]
        values = (view.get("state") or {}).get("values") or {}
        comment = ((values.get(COMMENT_BLOCK) or {}).get(COMMENT_INPUT) or {}).get("value")
        allowed, starter = await bot.may_decide(user, meta["job"])
        problem = (
            await bot.decide(meta["job"], meta["review"], meta["decision"], user, comment)
            if allowed
            else texts.not_allowed(starter)
        )
        if problem and meta.get("channel"):
            try:
                await client.chat_postEphemeral(channel=meta["channel"], user=user, text=problem)
            except SlackApiError as exc:
                log.warning("cannot tell %s: %s", user, exc.response.get("error"))

    app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(on_button)
    app.view(MODAL_CALLBACK)(on_modal)
