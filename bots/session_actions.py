"""Clicks on a session's message: the action buttons, the topic menu, and the modals.

A click acks at once (Slack wants an answer within 3 s), then either opens the action's
modal (request changes, a topic of your own, edit the draft, rewrite a section) from the
session as GenFlow shows it to the clicker, or sends the action acting for them. GenFlow
decides who may: a session is its starter's. The message changes when the session's
frames say so, whoever acted. Problems (not theirs, no longer available, GenFlow down)
go to the clicker only, as ephemeral messages.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from backend.client import APIError
from bots.bot import SlackBot
from bots.people import SlackUser, from_interaction
from bots.session_blocks import ACTION_PREFIX
from bots.session_forms import FORM_CALLBACK, FORMS, FormError, form_modal, submitted

log = logging.getLogger("genflow.slack")


def register(app: AsyncApp, bot: SlackBot) -> None:
    async def on_action(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        selected = (action.get("selected_option") or {}).get("value")
        value = json.loads(selected or action.get("value") or "{}")
        session_id, user = value.get("session"), from_interaction(body)
        name = "select_topic" if "topicId" in value else value.get("action")
        if not (session_id and name):
            return

        if "topicId" in value:
            title = _option_text(action)
            problem = await bot.sessions.act(
                session_id, name, {"topicId": value["topicId"]}, user, title
            )
        elif name in FORMS:
            problem = await _open_form(bot, client, body, session_id, name, user)
        else:
            problem = await bot.sessions.act(session_id, name, {}, user)
        if problem:
            await respond(text=problem, response_type="ephemeral", replace_original=False)

    async def on_form(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        values = (view.get("state") or {}).get("values") or {}
        try:
            parameters, detail = submitted(meta, values)
        except FormError as exc:
            await ack(response_action="errors", errors=exc.errors)
            return
        await ack()  # closes the modal
        user = from_interaction(body)
        problem = await bot.sessions.act(meta["session"], meta["action"], parameters, user, detail)
        if problem and meta.get("channel"):
            try:
                await client.chat_postEphemeral(
                    channel=meta["channel"], user=user.user, text=problem
                )
            except SlackApiError as exc:
                log.warning("cannot tell %s: %s", user.user, exc.response.get("error"))

    app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(on_action)
    app.view(FORM_CALLBACK)(on_form)


async def _open_form(
    bot: SlackBot,
    client: AsyncWebClient,
    body: dict[str, Any],
    session_id: str,
    action: str,
    user: SlackUser,
) -> str | None:
    """Open the action's modal; what to tell the clicker when that is not possible."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    record = await bot.store.sessions.get(session_id)
    try:
        state = await bot.sessions.state(session_id, user)
        offered = [a.get("action") for a in state.get("availableActions") or []]
        if action not in offered:
            return await bot.sessions.conflict(session_id, _unavailable(action, state))
        view = form_modal(
            action,
            state,
            subject=record.subject if record else "",
            channel=channel,
            ts=container.get("message_ts"),
        )
    except APIError as exc:
        return await bot.sessions.refused(session_id, exc, "open the form")
    except ValueError as exc:
        return f":information_source: {exc}"
    try:
        await client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        log.warning("views.open failed: %s", exc.response.get("error"))
        return ":warning: I could not open the form; please click again."
    return None


def _unavailable(action: str, state: dict[str, Any]) -> str:
    progress = state.get("progress") or {}
    if progress.get("status") == "processing":
        return "the session is busy with another action"
    if progress.get("status") == "completed":
        return "the session is completed"
    return f"{action!r} is not available at the {progress.get('stage', '?')} stage"


def _option_text(action: dict[str, Any]) -> str | None:
    return ((action.get("selected_option") or {}).get("text") or {}).get("text")
