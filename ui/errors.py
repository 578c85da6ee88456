"""Problems as a person reads them: what went wrong and what to do, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from backend.client import APIError, Unreachable

log = logging.getLogger(__name__)


def explain(exc: BaseException) -> str:
    """Markdown for the chat. Unexpected errors are logged with their traceback instead."""
    if isinstance(exc, Unreachable):
        return (
            f"⚠ **The GenFlow API is unreachable** ({exc.message}). "
            "Is the server running (`genflow serve`)? Try again in a moment."
        )
    if isinstance(exc, APIError):
        if exc.status == 401:  # the person's token was revoked (elsewhere) or expired
            return (
                "⚠ **You are logged out:** your login expired or was revoked. "
                "Reload the page to log in again."
            )
        if exc.status == 404:
            return "⚠ **Not found:** no such job (or it is not yours)."
        text = f"⚠ **{capitalize(exc.message)}**"
        return text + details(exc.details)
    log.exception("unexpected error in the web UI", exc_info=exc)
    return f"⚠ **Something went wrong in the web UI** ({type(exc).__name__}); see its log."


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def details(value: Any) -> str:
    if not isinstance(value, list):
        return ""
    lines = [
        f"- `{item.get('field')}`: {item.get('message')}"
        for item in value
        if isinstance(item, dict) and item.get("message")
    ]
    return "\n\n" + "\n".join(lines) if lines else ""
