"""Reading a Slack message the way a person in the channel sees it."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.slack_api import FakeSlack

CHANNEL = "C_GENERAL"


def buttons(message: dict[str, Any] | None) -> list[str]:
    return [
        element["text"]["text"]
        for block in (message or {}).get("blocks", [])
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


def options(message: dict[str, Any] | None) -> list[str]:
    """The choices of the message's menus (static_select), in order."""
    return [
        option["text"]["text"]
        for block in (message or {}).get("blocks", [])
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("type") == "static_select"
        for option in element.get("options", [])
    ]


def shown(message: dict[str, Any] | None) -> str:
    """Every piece of text in the message's blocks (what the reader sees)."""
    parts: list[str] = []
    for block in (message or {}).get("blocks", []):
        if block.get("text"):
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            text = element.get("text")
            parts.append(text.get("text", "") if isinstance(text, dict) else text or "")
        if block.get("title"):
            parts.append(block["title"]["text"])
    return "\n".join(p for p in parts if isinstance(p, str))


def images(message: dict[str, Any] | None) -> list[str]:
    """The Slack file ids of the images the message shows."""
    return [
        block["slack_file"]["id"]
        for block in (message or {}).get("blocks", [])
        if block.get("type") == "image" and "slack_file" in block
    ]


def job_id_in(text: str) -> str:
    found = re.search(r"job_[0-9A-Za-z_]+", text)
    assert found, f"no job id in {text!r}"
    return found.group(0)


async def the_message(slack: FakeSlack, channel: str = CHANNEL) -> dict[str, Any]:
    """The bot's one top-level message in the channel."""
    return await slack.wait_for(lambda: slack.last_message(channel), what="the job's message")


async def showing(
    slack: FakeSlack, check: Any, what: str, channel: str = CHANNEL, timeout: float = 20.0
) -> dict[str, Any]:
    """Wait until the job's message satisfies `check(message)`; return that message."""

    def ready() -> dict[str, Any] | None:
        message = slack.last_message(channel)
        return dict(message) if message is not None and check(message) else None

    return await slack.wait_for(ready, timeout=timeout, what=what)
