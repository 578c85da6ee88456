"""Which fields of a review Slack can edit, and what a person changed in them.

A review offering `edit` names its `editable` payload fields (the task's `output`, the
article's `title` and `markdown`); `editable_text` (shared with the web chat's editor)
picks the text ones. A Slack text box holds at most 3,000 characters: a longer field is
left out of the form (and said so), never cut, because an edit of a cut text would
silently drop the rest. When no field fits, there is no Edit button at all. Pure
functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.client import editable_text
from bots.markdown import escape

EDIT = "edit"
INPUT_LIMIT = 3000  # the longest text a Slack plain_text_input holds


@dataclass(frozen=True)
class Editable:
    fits: tuple[str, ...]  # text fields a Slack form can hold
    too_long: tuple[str, ...]  # text fields longer than INPUT_LIMIT


def editable(review: dict[str, Any] | None) -> Editable:
    """The review's editable text fields, split by whether Slack can hold them."""
    texts = editable_text(review)
    return Editable(
        tuple(f for f, text in texts.items() if len(text) <= INPUT_LIMIT),
        tuple(f for f, text in texts.items() if len(text) > INPUT_LIMIT),
    )


def changes(payload: dict[str, Any], typed: dict[str, str]) -> dict[str, str]:
    """The typed fields that differ from the payload (Slack may drop a trailing newline,
    which is no change)."""
    return {
        field: text
        for field, text in typed.items()
        if isinstance(payload.get(field), str) and text.strip() != payload[field].strip()
    }


def too_long(fields: tuple[str, ...]) -> str:
    """Why these fields are not in the form."""
    names = ", ".join(f"`{escape(f)}`" for f in fields)
    return (
        f"Too long to edit in Slack ({names}: a Slack form holds {INPUT_LIMIT:,} characters); "
        "edit it through the GenFlow API (`decision: edit`) instead."
    )
