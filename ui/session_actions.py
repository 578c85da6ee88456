"""What each session action needs from the page: its button, its fields, its parameters.

The buttons are exactly the API's `availableActions` (with the API's text, except where
the page's own words say better what a click does); an action the page does not know is
still offered, and sent without parameters. Parameters are built here from what the
person filled in, so a missing one is explained before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_ACTIONS = 8  # action buttons on the page; a stage offers four at most today
LABELS = {"edit_draft": "Save my edit"}
PRIMARY = {
    "discover_topics",
    "select_topic",
    "research_topic",
    "write_article",
    "apply_style",
    "review_article",
    "approve",
}
# The field group an action shows while it is available (select_topic uses the topic
# picker and edit_draft the editor, which show with their content).
FIELDS = {
    "discover_topics": "count",
    "regenerate_section": "section",
    "apply_style": "tone",
    "request_changes": "feedback",
}


class Incomplete(Exception):
    """The action needs something the person has not filled in (the message says what)."""


@dataclass(frozen=True)
class Filled:
    """What the person filled in on the page, as Gradio hands it over."""

    topic_id: str | None = None
    own_title: str | None = None
    count: float | None = None  # gr.Number gives an int or a float
    draft: str | None = None
    section: float | None = None
    instructions: str | None = None
    tone: str | None = None
    feedback: str | None = None


def label(action: dict[str, Any]) -> str:
    return LABELS.get(action.get("action", ""), str(action.get("text") or action.get("action")))


def variant(action: dict[str, Any]) -> str:
    return "primary" if action.get("action") in PRIMARY else "secondary"


def shown_fields(actions: list[dict[str, Any]]) -> set[str]:
    return {FIELDS[a["action"]] for a in actions if a.get("action") in FIELDS}


def parameters(action: str, filled: Filled, document: dict[str, Any]) -> dict[str, Any]:
    """The action's `parameters`, or Incomplete."""
    if action == "discover_topics":
        return {"count": int(filled.count)} if filled.count else {}
    if action == "select_topic":
        if _text(filled.own_title):
            return {"title": _text(filled.own_title)}
        if _text(filled.topic_id):
            return {"topicId": _text(filled.topic_id)}
        raise Incomplete("Pick a topic first, or type a title of your own.")
    if action == "edit_draft":
        current = ((document.get("draft") or {}).get("markdown") or "").strip()
        if not _text(filled.draft):
            raise Incomplete("The draft is empty: write something first.")
        if _text(filled.draft) == current:
            raise Incomplete("The draft has no changes to save: edit it first.")
        return {"markdown": filled.draft}
    if action == "regenerate_section":
        if not filled.section or filled.section < 1:
            raise Incomplete("Say which section to rewrite (1 is the first).")
        return {"index": int(filled.section) - 1} | (
            {"instructions": _text(filled.instructions)} if _text(filled.instructions) else {}
        )
    if action == "apply_style":
        return {"tone": _text(filled.tone)} if _text(filled.tone) else {}
    if action == "request_changes":
        if not _text(filled.feedback):
            raise Incomplete("Say what should change first.")
        return {"feedback": _text(filled.feedback)}
    return {}


def _text(value: str | None) -> str:
    return (value or "").strip()
