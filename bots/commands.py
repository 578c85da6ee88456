"""Slash commands: `/article TOPIC`, `/imagine PROMPT`, `/task TEXT`, `/flow NAME key=value…`,
and `/session CATEGORY-OR-TOPIC` (a GenFlow session, see session_bot.py); `/workflow` is
in workflow_commands.py.

Each acks within Slack's 3 seconds with a short ephemeral line: the job (or session)
started, or why not (an empty topic, GenFlow unreachable, invalid input). Starting one
that takes longer than the ack budget is acked first and reported through the response_url.
What is started is the caller's: it is created acting for them (bots/people.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from backend.client import APIError
from bots import texts
from bots.bot import SlackBot
from bots.markdown import CURLY_QUOTES, truncate
from bots.people import from_command
from bots.session_store import SessionMessage
from bots.store import JobMessage

log = logging.getLogger("genflow.slack")
ACK_BUDGET = 2.0  # seconds spent starting the job before acking anyway (Slack allows 3)


@dataclass(frozen=True)
class Command:
    flow: str
    field: str  # the input field the command's text goes to
    noun: str
    usage: str


COMMANDS = {
    "/article": Command("article", "topic", "article", "/article TOPIC [--review]"),
    "/imagine": Command("image", "prompt", "image", "/imagine PROMPT"),
    "/task": Command("review", "task", "task", "/task WHAT THE MODEL SHOULD DO"),
}


def parse(command: Command, text: str) -> dict[str, Any]:
    """The flow input for the command's text; ValueError says what is wrong."""
    words = text.split()
    review = command.flow == "article" and "--review" in words
    if review:
        text = " ".join(w for w in words if w != "--review")
    text = text.strip()
    if not text:
        raise ValueError(f"Please say what you want: `{command.usage}`")
    input_: dict[str, Any] = {command.field: text}
    if review:
        input_["review"] = True
    return input_


def parse_flow(text: str) -> tuple[str, dict[str, Any]]:
    """`/flow NAME key=value…`: like `genflow run`, `true`/`false` and JSON objects or
    arrays are parsed, the rest is text. Slack's curly quotes count as straight ones."""
    text = text.translate(CURLY_QUOTES)
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"Cannot read that: {exc}") from exc
    if not words:
        raise ValueError("Usage: `/flow NAME key=value …` (`/flow list` shows the flows)")
    values: dict[str, Any] = {}
    for pair in words[1:]:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"Expected key=value, got `{pair}`")
        try:
            structured = raw.startswith(("{", "[")) or raw in ("true", "false")
            values[key] = json.loads(raw) if structured else raw
        except json.JSONDecodeError:
            values[key] = raw
    return words[0], values


def register(app: AsyncApp, bot: SlackBot) -> None:
    for name, command in COMMANDS.items():
        app.command(name)(_handler(bot, command))
    app.command("/flow")(_flow_handler(bot))
    app.command("/session")(_session_handler(bot))


Handler = Callable[..., Awaitable[None]]


def _handler(bot: SlackBot, command: Command) -> Handler:
    async def handle(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        try:
            input_ = parse(command, body.get("text") or "")
        except ValueError as exc:
            await ack(str(exc))
            return
        title = str(input_[command.field])
        await _start(bot, ack, respond, body, command.flow, input_, title, command.noun)

    return handle


def _flow_handler(bot: SlackBot) -> Handler:
    async def handle(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        text = (body.get("text") or "").strip()
        if text in ("", "list", "help"):
            await _list_flows(bot, ack)
            return
        try:
            flow, input_ = parse_flow(text)
        except ValueError as exc:
            await ack(str(exc))
            return
        title = next((str(v) for v in input_.values() if isinstance(v, str)), flow)
        await _start(bot, ack, respond, body, flow, input_, title, f"`{flow}` job")

    return handle


async def _list_flows(bot: SlackBot, ack: AsyncAck) -> None:
    try:
        flows = await asyncio.wait_for(bot.genflow.flows(), ACK_BUDGET)
    except Exception as exc:  # unreachable, refused, or slower than Slack's 3 s
        await ack(texts.api_error(exc, "list the flows"))
        return
    lines = [
        f"• `{f['name']}`: {f['title']} (needs {', '.join(f['input_schema'].get('required', []))})"
        for f in flows
    ]
    await ack("Flows you can start with `/flow NAME key=value …`:\n" + "\n".join(lines))


def _session_handler(bot: SlackBot) -> Handler:
    async def handle(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        subject = " ".join((body.get("text") or "").translate(CURLY_QUOTES).split())
        if not subject:
            await ack("Please say what the article is about: `/session CATEGORY-OR-TOPIC`")
            return
        start = asyncio.create_task(
            bot.sessions.start(subject, body["channel_id"], from_command(body))
        )
        waiting = f"Starting your session about “{truncate(subject, 80)}”…"
        await ack_when_started(ack, respond, start, waiting, _session_outcome)

    return handle


async def _start(
    bot: SlackBot,
    ack: AsyncAck,
    respond: AsyncRespond,
    body: dict[str, Any],
    flow: str,
    input_: dict[str, Any],
    title: str,
    noun: str,
) -> None:
    start = asyncio.create_task(
        bot.start_job(flow, input_, title, body["channel_id"], from_command(body))
    )
    waiting = f"Starting your {noun} “{truncate(title, 80)}”…"
    await ack_when_started(ack, respond, start, waiting, lambda t: _outcome(t, flow, noun))


async def ack_when_started(
    ack: AsyncAck,
    respond: AsyncRespond,
    start: asyncio.Task[Any],
    waiting: str,
    outcome: Callable[[asyncio.Task[Any]], str],
) -> None:
    """Ack with the outcome when `start` is done within the budget; else ack with
    `waiting` and report the outcome through the response_url."""
    done, _ = await asyncio.wait({start}, timeout=ACK_BUDGET)
    if not done:
        await ack(waiting)
        await asyncio.wait({start})
        await respond(text=outcome(start), response_type="ephemeral")
    else:
        await ack(outcome(start))


def _outcome(start: asyncio.Task[tuple[JobMessage, str | None]], flow: str, noun: str) -> str:
    exc = start.exception()
    if exc is not None:
        if isinstance(exc, APIError):
            log.warning("could not start a %s job: %s", flow, exc)
        else:
            log.error("starting a %s job failed", flow, exc_info=exc)
        return texts.api_error(exc)
    record, note = start.result()
    return f"Started your {noun} (`{record.job_id}`). " + (
        note or "I'll keep its message here up to date."
    )


def _session_outcome(start: asyncio.Task[tuple[SessionMessage, str | None]]) -> str:
    exc = start.exception()
    if exc is not None:
        if isinstance(exc, APIError):
            log.warning("could not start a session: %s", exc)
        else:
            log.error("starting a session failed", exc_info=exc)
        return texts.api_error(exc, "start the session")
    record, note = start.result()
    return f"Started your session (`{record.session_id}`). " + (
        note or "I'll keep its message here up to date; the buttons take it from stage to stage."
    )
