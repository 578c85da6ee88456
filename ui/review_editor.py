"""Edit before approve: the open review's editable text in text boxes, sent as an `edit`.

Which fields may be edited comes from the review itself, by the rule every surface shares
(`editable_text`: the payload's text fields the review names `editable`). Only the fields
a person changed are sent; the API records a diff of each in `review.decided`, and the
job goes on with the edited content as if approved. The boxes are filled when the editor
opens and are no part of the job's view, so nothing re-rendering the view (a poll, a
reminder, a follower) wipes what is being typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from backend.client import editable_text
from ui.edit_diff import field_name
from ui.handlers import Handlers
from ui.session import Session

EDIT = "edit"
MAX_FIELDS = 3  # text boxes in the editor; an article's review offers two (title, markdown)
NOTHING_CHANGED = "⚠ **Nothing was changed.** Change the text, or approve it as it is."


@dataclass
class Editor:
    """The Edit button (beside the one-click decisions) and the editor it opens."""

    open: gr.Button
    box: gr.Column
    fields: list[gr.Textbox]
    submit: gr.Button
    close: gr.Button


def edit_button(prefix: str) -> gr.Button:
    return gr.Button("Edit", visible=False, elem_id=f"{prefix}-edit", min_width=110)


def editor_box(prefix: str, edit: gr.Button) -> Editor:
    """The editor, laid out in the current Blocks context (hidden until it opens)."""
    with gr.Column(visible=False, elem_id=f"{prefix}-editor") as box:
        fields = [
            gr.Textbox(visible=False, max_lines=40, elem_id=f"{prefix}-edit-{i}")
            for i in range(MAX_FIELDS)
        ]
        with gr.Row():
            submit = gr.Button(
                "Approve with my edits", variant="primary", elem_id=f"{prefix}-edit-submit"
            )
            close = gr.Button("Cancel edit", elem_id=f"{prefix}-edit-cancel")
    return Editor(edit, box, fields, submit, close)


def text_box(name: str, text: str) -> gr.Textbox:
    """A box for one field, prefilled, tall enough for its text."""
    lines = 1 if "\n" not in text and len(text) <= 80 else min(16, max(4, text.count("\n") + 2))
    label = f"Your edit of {field_name(name)}"  # the words the chat's diff of it uses
    return gr.Textbox(value=text, label=label, lines=lines, visible=True)


def edits_of(shown: dict[str, str], texts: list[str | None]) -> dict[str, str]:
    """The changed fields: each box's text against the field it was filled with."""
    changed = zip(shown.items(), texts, strict=False)  # boxes: MAX_FIELDS
    return {name: text for (name, was), text in changed if text is not None and text != was}


class ReviewEditor:
    """What the editor's buttons do, on the page's job view (`Handlers.view_outputs`)."""

    def __init__(self, h: Handlers) -> None:
        self.h = h

    def open(self, session: Session) -> tuple[Any, ...]:
        """Edit: the open review's editable text in the boxes (the view, then each box)."""
        view = session.view
        review = view.open_review if view else None
        shown = list(editable_text(review).items())[:MAX_FIELDS]
        if view is None or review is None or not shown:
            return (*self.h.view_outputs(session), *(gr.skip() for _ in range(MAX_FIELDS)))
        view.editing = review["id"]
        boxes = [text_box(name, text) for name, text in shown]
        hidden = [gr.Textbox(value="", visible=False)] * (MAX_FIELDS - len(boxes))
        return (*self.h.view_outputs(session), *boxes, *hidden)

    def close(self, session: Session) -> tuple[Any, ...]:
        """Cancel edit: back to the one-click decisions; nothing is sent."""
        if session.view is not None:
            session.view.editing = None
        return self.h.view_outputs(session)

    async def submit(
        self, request: gr.Request, comment: str, session: Session, *texts: str | None
    ) -> tuple[Any, ...]:
        """Approve with my edits: the changed fields as an `edit` decision (the view, then
        the comment, cleared once sent). With nothing changed, nothing is sent."""
        view = session.view
        review = view.open_review if view else None
        if view is None or review is None or view.editing != review["id"]:
            return (*self.h.view_outputs(session), gr.skip())
        edits = edits_of(editable_text(review), list(texts))
        if not edits:
            session.say(NOTHING_CHANGED)
            return (*self.h.view_outputs(session), gr.skip())
        sent = await self.h.send_decision(session, request, EDIT, comment, edits)
        return (*self.h.view_outputs(session), "" if sent else gr.skip())
