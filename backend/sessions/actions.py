"""Which session actions exist, when each is available, and what each does.

An action either runs a model (a stage flow as a job: `flow` is set) or only changes the
session (select a topic, edit the draft, advance, approve). Availability depends on the
stage, the status (nothing while processing, nothing once completed) and the document
(no `edit_draft` before there is a draft).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.sessions.model import STAGES, Session

Params = dict[str, Any]


@dataclass(frozen=True)
class Action:
    id: str
    text: str
    stages: tuple[str, ...]
    flow: str | None = None  # a model action runs this flow as a job
    form: bool = False  # takes parameters a person fills in
    needs: Callable[[dict[str, Any]], bool] = lambda document: True
    parameters: dict[str, Any] | None = None  # JSON schema of `parameters`

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "action": self.id,
            "type": "form" if self.form else "button",
        }


def _has_draft(document: dict[str, Any]) -> bool:
    return bool((document.get("draft") or {}).get("markdown"))


def _text(max_length: int, min_length: int = 0) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


OUTLINE = {
    "type": "array",
    "minItems": 1,
    "maxItems": 8,
    "items": _object(
        {"title": _text(120, 1), "points": {"type": "array", "items": _text(300), "maxItems": 8}},
        ("title",),
    ),
}

ACTIONS: dict[str, Action] = {
    a.id: a
    for a in (
        Action(
            "discover_topics",
            "Discover topics",
            ("topic",),
            flow="session.topics",
            parameters=_object(
                {
                    "category": _text(200),
                    "count": {"type": "integer", "minimum": 1, "maximum": 10},
                    "keywords": {"type": "array", "items": _text(50), "maxItems": 10},
                }
            ),
        ),
        Action(
            "select_topic",
            "Choose a topic",
            ("topic",),
            form=True,
            parameters={
                **_object({"topicId": _text(40, 1), "title": _text(300, 1)}),
                "minProperties": 1,
            },
        ),
        Action(
            "research_topic",
            "Research the topic",
            ("research",),
            flow="session.research",
            parameters=_object(
                {"questions": {"type": "array", "items": _text(300), "maxItems": 3}}
            ),
        ),
        Action(
            "write_article",
            "Write the draft",
            ("writing",),
            flow="session.write",
            parameters=_object(
                {
                    "outline": OUTLINE,
                    "wordCount": {"type": "integer", "minimum": 100, "maximum": 3000},
                }
            ),
        ),
        Action(
            "edit_draft",
            "Edit the draft",
            ("writing", "styling", "review"),
            form=True,  # a person may also bring a draft of their own
            parameters=_object({"markdown": _text(100_000, 1)}, ("markdown",)),
        ),
        Action(
            "regenerate_section",
            "Rewrite a section",
            ("writing",),
            flow="session.regenerate_section",
            form=True,
            needs=_has_draft,
            parameters=_object(
                {"index": {"type": "integer", "minimum": 0}, "instructions": _text(2000)},
                ("index",),
            ),
        ),
        Action(
            "apply_style",
            "Apply a style",
            ("styling",),
            flow="session.style",
            needs=_has_draft,
            parameters=_object({"tone": _text(200), "instructions": _text(2000)}),
        ),
        Action(
            "review_article",
            "Review the article",
            ("review",),
            flow="session.review",
            needs=_has_draft,
            parameters=_object({}),
        ),
        Action(
            "approve",
            "Approve",
            ("review",),
            needs=_has_draft,
            parameters=_object({}),
        ),
        Action(
            "request_changes",
            "Request changes",
            ("review",),
            form=True,
            needs=_has_draft,
            parameters=_object(
                {"feedback": _text(2000, 1), "stage": {"enum": ["writing", "styling"]}},
                ("feedback",),
            ),
        ),
        Action(
            "advance",
            "Next stage",
            ("research", "writing", "styling"),
            needs=lambda document: bool(document.get("topic")),
            parameters=_object({}),
        ),
    )
}


def available(session: Session) -> list[Action]:
    """What a person can do now: nothing while a model works or once it is done."""
    if session.status in ("processing", "completed"):
        return []
    return [
        a
        for a in ACTIONS.values()
        if session.stage in a.stages
        and a.needs(session.document)
        and not (
            a.id == "advance" and session.stage == "writing" and not _has_draft(session.document)
        )
    ]


def next_stage(stage: str) -> str:
    return STAGES[min(STAGES.index(stage) + 1, len(STAGES) - 1)]
