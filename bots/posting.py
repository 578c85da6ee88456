"""Posting a message where the person will see it: in the channel the command came from,
or, when the bot is not a member there, in a direct message (with a note saying why)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

NOT_A_MEMBER = ("not_in_channel", "channel_not_found", "is_archived")


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str
    note: str | None  # set when it went to a DM instead of the channel


def moved_note(channel: str, what: str) -> str:
    return (
        f"I'm not a member of <#{channel}>, so {what} in a direct message. "
        "Invite me with `/invite @GenFlow` to post there."
    )


async def post_where_seen(
    slack: AsyncWebClient,
    channel: str,
    user_id: str,
    text: str,
    blocks: list[dict[str, Any]],
    *,
    what: str,
    moved: str = "I'll keep you posted",
) -> Posted | None:
    """The posted message (channel and ts), or None when it could be posted nowhere
    (logged; the caller tells the person another way)."""
    note = None
    for target in (channel, user_id):
        try:
            response = await slack.chat_postMessage(channel=target, text=text, blocks=blocks)
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("cannot post %s in %s: %s", what, target, error)
            if error in NOT_A_MEMBER and target != user_id:
                note = moved_note(channel, moved)
                continue
            return None
        except Exception as exc:  # network trouble: the caller answers privately instead
            log.warning("cannot post %s in %s: %r", what, target, exc)
            return None
        return Posted(response["channel"], response["ts"], note)
    return None
