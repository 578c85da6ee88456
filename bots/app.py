"""The slack-bolt `AsyncApp`: signature checks (Bolt's), retry de-duplication, handlers.

Slack sends the same request again (with `X-Slack-Retry-Num`) when an answer is late or
lost; every slash command, click and modal carries a `trigger_id` that is unique per
user action, so a request whose trigger_id the bot's store has already seen is answered
with an empty 200 and does nothing: no job is ever started twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bots import actions, commands, session_actions, workflow_actions, workflow_commands
from bots.bot import SlackBot

log = logging.getLogger("genflow.slack")


class _NoTokenNotice(logging.Filter):
    """Bolt notices SLACK_BOT_TOKEN in the environment next to our client; that is by design."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def build_app(bot: SlackBot) -> AsyncApp:
    bolt_log = logging.getLogger("genflow.slack.bolt")
    if not any(isinstance(f, _NoTokenNotice) for f in bolt_log.filters):
        bolt_log.addFilter(_NoTokenNotice())
    app = AsyncApp(
        name="genflow",
        client=bot.slack,  # carries the token and GENFLOW_SLACK_API_URL
        # Socket Mode requests are not signed (the WebSocket is authenticated instead).
        signing_secret=bot.config.signing_secret,
        logger=bolt_log,
    )

    async def skip_repeats(
        body: dict[str, Any], request: AsyncBoltRequest, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        trigger = body.get("trigger_id") if isinstance(body, dict) else None
        if trigger and not await bot.store.claim(f"trigger:{trigger}"):
            retry = request.headers.get("x-slack-retry-num", ["?"])[0]
            log.info("ignored a repeated request (retry %s, trigger %s)", retry, trigger)
            return BoltResponse(status=200, body="")
        return await next()

    app.middleware(skip_repeats)
    commands.register(app, bot)
    workflow_commands.register(app, bot)  # /workflow (its own module: drafting takes long)
    actions.register(app, bot)
    session_actions.register(app, bot)
    workflow_actions.register(app, bot)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error for a %s request", body.get("type") or "command", exc_info=error)

    return app
