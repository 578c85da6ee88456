"""The Edit form: a modal with the review's editable text, prefilled, whose submission
is an `edit` decision (the changed fields) sent for the person who submitted it.

Opened with the click's trigger_id (within Slack's 3 s) from the review as GenFlow shows
it to the clicker. The submission carries the job, the review and the fields in
`private_metadata` (never the text: Slack keeps that to 3,000 characters); what changed
is worked out against the review when it is sent. Pure functions, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from bots.blocks import plain, section
from bots.edits import INPUT_LIMIT, editable, too_long
from bots.session_forms import FormError

EDIT_CALLBACK = "genflow_edit"
LABELS = {"output": "The answer", "markdown": "The article (Markdown)", "title": "Title"}
SHORT = 150  # a text up to this long, on one line, gets a one-line box


def edit_modal(job_id: str, review: dict[str, Any], *, channel: str, ts: str | None) -> dict:
    """The form for the review's editable text; ValueError when Slack can hold none."""
    fields = editable(review)
    if not fields.fits:
        raise ValueError(too_long(fields.too_long))
    payload = review.get("payload") or {}
    intro = "Change the text and save: your version is approved as it stands."
    if fields.too_long:
        intro += "\n" + too_long(fields.too_long)
    meta = {
        "job": job_id,
        "review": review["id"],
        "fields": list(fields.fits),
        "channel": channel,
        "ts": ts,
    }
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": json.dumps(meta),
        "title": plain("Edit · GenFlow"),
        "submit": plain("Save and approve"),
        "close": plain("Cancel"),
        "blocks": [section(intro), *(_input(f, payload[f]) for f in fields.fits)],
    }


def _input(field: str, text: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": f"{field}_input",
        "multiline": len(text) > SHORT or "\n" in text or field != "title",
        "max_length": INPUT_LIMIT,
    }
    if text:
        element["initial_value"] = text
    return {
        "type": "input",
        "block_id": field,
        "optional": False,
        "label": plain(LABELS.get(field, field.replace("_", " ").capitalize())),
        "element": element,
    }


def typed(meta: dict[str, Any], values: dict[str, Any]) -> dict[str, str]:
    """The submitted text of each field; FormError names the ones left empty."""
    texts = {
        field: ((values.get(field) or {}).get(f"{field}_input") or {}).get("value") or ""
        for field in meta.get("fields") or []
    }
    empty = {field: "This cannot be empty." for field, text in texts.items() if not text.strip()}
    if empty:
        raise FormError(empty)
    return texts
