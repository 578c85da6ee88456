"""Reading an OpenAI-compatible server's answer, and saying what it sent when it is not one.

A proxy's login page, a truncated body or a server that is not what OPENAI_BASE_URL
should point at can answer 200 with something the SDK cannot use; the SDK then raises
`JSONDecodeError` or hands back a plain string. `BadAnswer` says instead what arrived,
with a short excerpt, so a person can tell which server answered.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

EXCERPT_CHARS = 100

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


class BadAnswer(ValueError):
    """The server's answer is not what the API promises (the message says what it was)."""


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` on one line, cut to `limit` characters, in quotes (not escaped: it is read
    by a person)."""
    flat = " ".join(text.split())
    return f"'{flat if len(flat) <= limit else flat[: limit - 1] + '…'}'"


def looks_like_html(content_type: str, text: str) -> bool:
    start = text.lstrip()[:15].lower()
    return "html" in content_type.lower() or start.startswith(("<!doctype", "<html"))


def html_summary(text: str) -> str:
    """An HTML page in a few words: its title, or the start of its text."""
    title = _TITLE.search(text)
    if title and title.group(1).strip():
        return f"<title>{' '.join(html.unescape(title.group(1)).split())}</title>"
    return excerpt(html.unescape(_TAG.sub(" ", text)))


def what_was_sent(status: int, content_type: str, text: str, *, who: str, wanted: str) -> str:
    """`the model server answered 200 with an HTML page, not JSON: <title>Sign in</title>`."""
    if looks_like_html(content_type, text):
        return f"the {who} answered {status} with an HTML page, not {wanted}: {html_summary(text)}"
    if not text.strip():
        return f"the {who} answered {status} with an empty body, not {wanted}"
    return f"the {who} answered {status} with invalid JSON: {excerpt(text)}"


def decode_json(status: int, content_type: str, body: bytes, *, who: str, wanted: str) -> Any:
    """The JSON in a 2xx body; `BadAnswer` saying what it was when it is not JSON."""
    text = body.decode("utf-8", errors="replace")
    if not looks_like_html(content_type, text):
        try:
            return json.loads(text)
        except ValueError:
            pass
    raise BadAnswer(what_was_sent(status, content_type, text, who=who, wanted=wanted))


def error_in(data: Any) -> str | None:
    """The message of an `{"error": ...}` body (some servers send it with status 200)."""
    if not isinstance(data, dict) or "error" not in data:
        return None
    error = data["error"]
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return str(error)


def chat_answer(data: Any, *, status: int) -> tuple[str, str | None, dict[str, Any]]:
    """(text, model, usage) of a chat completion body; `BadAnswer` when it is not one."""
    if (message := error_in(data)) is not None:
        raise BadAnswer(f"the model server answered {status} with an error: {message}")
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        raise BadAnswer(
            f"the model server answered {status} with JSON that is not a chat completion: "
            f"{excerpt(json.dumps(data))}"
        )
    text = ""
    if choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        content = message.get("content") if isinstance(message, dict) else None
        text = content if isinstance(content, str) else ""
    model = data.get("model") if isinstance(data.get("model"), str) else None
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return text, model, usage
