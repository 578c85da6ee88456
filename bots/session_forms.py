"""Modals for the session actions that need a person's words: request changes (feedback),
name a topic yourself, edit the draft, rewrite one section.

A click on such an action opens its modal (views.open with the click's trigger_id, so
within Slack's 3 s); the submission carries the session and the action in
`private_metadata` and becomes the action's parameters. Pure functions, no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bots.blocks import plain, section
from bots.edits import INPUT_LIMIT  # the longest text a Slack text box holds
from bots.markdown import escape, truncate

FORM_CALLBACK = "genflow_session_form"


class FormError(Exception):
    """What to show next to the modal's fields (`response_action: errors`)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class Field:
    name: str  # the block_id; the action's parameter unless the form says otherwise
    label: str
    multiline: bool = False
    max_length: int = 2000
    optional: bool = False


@dataclass(frozen=True)
class Form:
    title: str  # at most 24 characters (Slack's limit for a modal title)
    submit: str
    intro: str
    fields: tuple[Field, ...]


FORMS = {
    "request_changes": Form(
        "Request changes",
        "Send",
        "Tell the model what to change. The session goes back to writing, and the next "
        "draft follows your feedback.",
        (Field("feedback", "What should change?", multiline=True),),
    ),
    "select_topic": Form(
        "Choose a topic",
        "Choose",
        "Name the article's topic yourself; the session moves on to research.",
        (Field("title", "Topic", max_length=300),),
    ),
    "edit_draft": Form(
        "Edit the draft",
        "Save",
        "Your edit becomes a new version of the draft (markdown).",
        (Field("markdown", "The draft", multiline=True, max_length=INPUT_LIMIT),),
    ),
    "regenerate_section": Form(
        "Rewrite a section",
        "Rewrite",
        "The model rewrites one section of the draft.",
        (
            Field("section", "Which section? (its number)", max_length=2),
            Field("instructions", "What should change?", multiline=True, optional=True),
        ),
    ),
}


def sections_of(markdown: str) -> list[str]:
    """The draft's section titles (its `##` headings), in order."""
    return [m.group(1).strip() for m in re.finditer(r"^##\s+(.+)$", markdown, re.MULTILINE)]


def form_modal(
    action: str, state: dict[str, Any], *, subject: str, channel: str, ts: str | None
) -> dict[str, Any]:
    """The modal for `action`; ValueError says why Slack cannot offer it."""
    form = FORMS[action]
    document = state.get("document") or {}
    draft = (document.get("draft") or {}).get("markdown") or ""
    initial: dict[str, str] = {}
    intro = form.intro
    meta: dict[str, Any] = {"session": state["sessionId"], "action": action, "channel": channel}
    if action == "select_topic":
        initial["title"] = truncate(subject, 300)
    elif action == "edit_draft":
        if len(draft) > INPUT_LIMIT:
            raise ValueError(
                f"The draft is longer than a Slack form holds ({INPUT_LIMIT:,} characters); "
                "edit it in the web chat or with `genflow session`."
            )
        initial["markdown"] = draft
    elif action == "regenerate_section":
        titles = sections_of(draft)
        meta["sections"] = len(titles)
        intro += "\n" + "\n".join(f"{n}. {escape(t)}" for n, t in enumerate(titles, 1))
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": json.dumps({**meta, "ts": ts}),
        "title": plain(truncate(form.title, 24)),
        "submit": plain(form.submit),
        "close": plain("Cancel"),
        "blocks": [section(intro), *(_input(f, initial.get(f.name)) for f in form.fields)],
    }


def _input(field: Field, initial: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": f"{field.name}_input",
        "multiline": field.multiline,
        "max_length": field.max_length,
    }
    if initial:
        element["initial_value"] = initial[: field.max_length]
    return {
        "type": "input",
        "block_id": field.name,
        "optional": field.optional,
        "label": plain(field.label),
        "element": element,
    }


def submitted(meta: dict[str, Any], values: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The action's parameters and what the message should say about them (the topic,
    the feedback…) from a submitted modal; FormError for what must be fixed first."""
    action = meta["action"]
    typed = {
        field.name: ((values.get(field.name) or {}).get(f"{field.name}_input") or {}).get("value")
        or ""
        for field in FORMS[action].fields
    }
    typed = {name: text.strip() for name, text in typed.items()}
    if action == "regenerate_section":
        count = int(meta.get("sections") or 0)
        number = typed["section"]
        if not number.isdigit() or not 1 <= int(number) <= max(count, 1):
            raise FormError({"section": f"Type a section number from 1 to {max(count, 1)}."})
        parameters: dict[str, Any] = {"index": int(number) - 1}
        if typed["instructions"]:
            parameters["instructions"] = typed["instructions"]
        return parameters, f"section {number}"
    field = FORMS[action].fields[0]
    if not typed[field.name]:
        raise FormError({field.name: "This cannot be empty."})
    detail = None if action == "edit_draft" else typed[field.name]
    return {field.name: typed[field.name]}, detail
