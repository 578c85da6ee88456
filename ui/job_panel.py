"""One job's live view — the chat, its status bar, the review buttons and editor, Cancel —
and how its events are wired, shared by every tab that shows a job.

The Chat tab lays its panel out around the chat box; the Workflows tab builds one with
`build()` to run a workflow in place. Both are rendered by `Handlers.view_outputs()` and
followed by `Handlers.follow()` from their own `Session`, so there is one renderer and
one follower for every job, wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ui.handlers import MAX_OPTIONS, Handlers
from ui.panels import status_html
from ui.review_editor import MAX_FIELDS, Editor, ReviewEditor, edit_button, editor_box

ThenFollow = Callable[[Any, str], None]


@dataclass
class JobPanel:
    chatbot: gr.Chatbot
    status: gr.HTML
    review_box: gr.Column
    review_prompt: gr.Markdown
    deciding: gr.Row  # the comment, the decision buttons and Edit: for whom may decide
    comment: gr.Textbox
    buttons: list[gr.Button]
    editor: Editor
    cancel: gr.Button
    timer: gr.Timer
    job_id: gr.Textbox

    def view(self) -> list[Any]:
        """The components `Handlers.view_outputs()` renders, in its order."""
        return [
            self.chatbot,
            self.status,
            self.review_box,
            self.review_prompt,
            self.deciding,
            *self.buttons,
            self.editor.open,
            self.editor.box,
            self.cancel,
            self.timer,
            self.job_id,
        ]


def chatbot(elem_id: str, height: int, placeholder: str | None = None) -> gr.Chatbot:
    """A chat box that shows a job: no feedback, copy or clear buttons."""
    return gr.Chatbot(
        label="GenFlow",
        show_label=False,
        layout="panel",
        elem_id=elem_id,
        height=height,
        placeholder=placeholder,
        feedback_options=None,
        buttons=[],
        allow_file_downloads=False,
        autoscroll=True,
    )


def review_row(
    prefix: str,
) -> tuple[gr.Column, gr.Markdown, gr.Row, gr.Textbox, list[gr.Button], Editor]:
    """The decision panel: the review's prompt (or whose decision it waits for), and for
    whom may decide it a row of a comment, one button per option and Edit, and the
    editor Edit opens."""
    with gr.Column(visible=False, elem_id=f"{prefix}-review") as box:
        prompt = gr.Markdown(elem_id=f"{prefix}-review-prompt")
        with gr.Row(equal_height=True, visible=False, elem_id=f"{prefix}-deciding") as row:
            comment = gr.Textbox(
                show_label=False,
                placeholder="Comment (optional): what should change?",
                scale=3,
                elem_id=f"{prefix}-comment",
            )
            buttons = [
                gr.Button(visible=False, elem_id=f"{prefix}-decide-{i}", min_width=110)
                for i in range(MAX_OPTIONS)
            ]
            edit = edit_button(prefix)
        editor = editor_box(prefix, edit)
    return box, prompt, row, comment, buttons, editor


def build(prefix: str, poll_seconds: float, *, height: int = 420) -> JobPanel:
    """A job panel laid out in the current Blocks context (status, chat, review, Cancel);
    element ids start with `prefix`."""
    timer = gr.Timer(poll_seconds, active=False)
    job_id = gr.Textbox(visible=False, elem_id=f"{prefix}-job-id")
    status = gr.HTML(status_html(None, None), elem_id=f"{prefix}-status")
    chat = chatbot(f"{prefix}-chat", height)
    box, prompt, row, comment, buttons, editor = review_row(prefix)
    cancel = gr.Button(
        "Cancel", variant="stop", visible=False, size="sm", elem_id=f"{prefix}-cancel"
    )
    return JobPanel(chat, status, box, prompt, row, comment, buttons, editor, cancel, timer, job_id)


def wire(
    panel: JobPanel,
    session: gr.State,
    h: Handlers,
    *,
    jobs: gr.HTML,
    follow_opts: dict[str, Any],
    api_prefix: str = "",
) -> ThenFollow:
    """Decisions, the editor, Cancel and the review timer of `panel`, whose job is
    `session`'s. Returns `then_follow(event, api_name)`, which follows the job after
    `event`."""
    view = panel.view()
    following = [*view, jobs]

    def then_follow(event: Any, api_name: str) -> None:
        event.then(h.follow, [session], following, api_name=api_name, **follow_opts)

    wire_editor(panel, session, ReviewEditor(h), then_follow, api_prefix)

    for index, button in enumerate(panel.buttons):
        decided = button.click(
            h.decider(index),
            [panel.comment, session],
            [*view, panel.comment],
            api_name=f"{api_prefix}decide_{index}",
            show_progress="hidden",
        )
        then_follow(decided, f"{api_prefix}follow_decision_{index}")
    cancelled = panel.cancel.click(
        h.cancel, [session], view, api_name=f"{api_prefix}cancel", show_progress="hidden"
    )
    then_follow(cancelled, f"{api_prefix}follow_cancel")
    panel.timer.tick(  # "once": no new tick while one is still running
        h.tick,
        [session],
        following,
        api_name=f"{api_prefix}tick",
        show_progress="hidden",
        concurrency_id=follow_opts["concurrency_id"],
        concurrency_limit=follow_opts["concurrency_limit"],
    )
    return then_follow


def wire_editor(
    panel: JobPanel,
    session: gr.State,
    editor: ReviewEditor,
    then_follow: ThenFollow,
    api_prefix: str,
) -> None:
    """Edit opens the editor, Cancel edit closes it, and Approve with my edits sends the
    `edit` decision, then follows the job."""
    view, boxes = panel.view(), panel.editor.fields
    assert len(boxes) == MAX_FIELDS
    panel.editor.open.click(
        editor.open,
        [session],
        [*view, *boxes],
        api_name=f"{api_prefix}edit_open",
        show_progress="hidden",
    )
    panel.editor.close.click(
        editor.close, [session], view, api_name=f"{api_prefix}edit_cancel", show_progress="hidden"
    )
    edited = panel.editor.submit.click(
        editor.submit,
        [panel.comment, session, *boxes],
        [*view, panel.comment],
        api_name=f"{api_prefix}edit_submit",
        show_progress="hidden",
    )
    then_follow(edited, f"{api_prefix}follow_edit")
