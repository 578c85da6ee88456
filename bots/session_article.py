"""The approved article of a session, posted once in the thread of its message.

Short articles go as formatted section blocks, long ones as an `article.md` file, the way
the bot posts a job's article. What was posted is recorded in the bot's store (under the
session's id), so a restarted bot never posts it twice.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.blocks import article_blocks
from bots.markdown import truncate
from bots.store import BotStore

log = logging.getLogger("genflow.slack")


def final_key(session_id: str) -> str:
    return f"{session_id}:final"


async def post_final_article(
    slack: AsyncWebClient, store: BotStore, session_id: str, markdown: str, channel: str, ts: str
) -> None:
    """Post `markdown` under the message (channel, ts) unless it already was; failures
    are logged, not raised (the message itself still shows an excerpt)."""
    key = final_key(session_id)
    if key in await store.posted(session_id) or not markdown.strip():
        return
    title = markdown.strip().splitlines()[0].lstrip("# ").strip() or "The article"
    file_id = permalink = None
    try:
        blocks = article_blocks(markdown)
        if blocks is None:
            response = await slack.files_upload_v2(
                channel=channel,
                thread_ts=ts,
                file=markdown.encode(),
                filename="article.md",
                title=truncate(title, 250),
            )
            uploaded = response.get("file") or {}
            file_id, permalink = uploaded.get("id"), uploaded.get("permalink")
        else:
            await slack.chat_postMessage(
                channel=channel, thread_ts=ts, text=truncate(title, 150), blocks=blocks
            )
    except (SlackApiError, OSError, ValueError) as exc:
        log.warning("could not post the article of %s: %s", session_id, exc)
        return
    await store.add_posted(session_id, key, file_id, permalink)
