"""The Sessions view: its layout (`build`, inside the caller's tab) and how its events are
wired (`wire`). What each event does is in `ui.session_handlers`.

The follower runs in the chat's concurrency group ("follow"), so one limit covers every
live tab, whichever view it shows. While the session waits for its person a timer polls
it (about once a second) instead of holding a follower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from ui.session_actions import MAX_ACTIONS
from ui.session_assets import SET_SESSION_URL
from ui.session_handlers import SessionHandlers
from ui.session_panels import status_html
from ui.session_view import SessionTab

POLL_SECONDS = 1.0  # a change made elsewhere shows within about this long


@dataclass
class SessionPage:
    tab: gr.State
    session_id: gr.Textbox
    status: gr.HTML
    live: gr.Markdown
    topics_box: gr.Column
    topics_key: gr.Textbox
    topic: gr.Radio
    own_title: gr.Textbox
    notes: gr.Accordion
    research: gr.Markdown
    draft_box: gr.Column
    draft_head: gr.Markdown
    draft_key: gr.Textbox
    editor: gr.Textbox
    review: gr.Markdown
    final: gr.Markdown
    count: gr.Number
    section_row: gr.Row
    section: gr.Number
    instructions: gr.Textbox
    tone: gr.Textbox
    feedback: gr.Textbox
    buttons: list[gr.Button]
    suggest: gr.Button
    ideas: gr.Markdown
    timer: gr.Timer
    subject: gr.Textbox
    create: gr.Button
    sessions: gr.HTML
    refresh: gr.Button

    def view(self) -> list[Any]:
        """The components `SessionHandlers.outputs()` renders, in its order."""
        return [
            self.status,
            self.session_id,
            self.live,
            self.topics_box,
            self.topics_key,
            self.topic,
            self.own_title,
            self.notes,
            self.research,
            self.draft_box,
            self.draft_head,
            self.draft_key,
            self.editor,
            self.review,
            self.final,
            self.count,
            self.section_row,
            self.tone,
            self.feedback,
            *self.buttons,
            self.suggest,
            self.ideas,
            self.timer,
        ]

    def filled(self) -> list[Any]:
        """What an action may take from the page (`SessionHandlers.actor()`'s inputs)."""
        return [
            self.topic,
            self.own_title,
            self.count,
            self.editor,
            self.section,
            self.instructions,
            self.tone,
            self.feedback,
        ]


def build() -> SessionPage:
    """The view's components, laid out in the current Blocks context."""
    # One per tab, copied from this empty one (as the chat's state).
    tab = gr.State(SessionTab())
    session_id = gr.Textbox(visible=False, elem_id="gs-session-id")
    topics_key = gr.Textbox(visible=False, elem_id="gs-topics-key")
    draft_key = gr.Textbox(visible=False, elem_id="gs-draft-key")
    timer = gr.Timer(POLL_SECONDS, active=False)
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            status = gr.HTML(status_html(None), elem_id="gs-status")
            live = gr.Markdown(visible=False, elem_id="gs-live")
            final = gr.Markdown(visible=False, elem_id="gs-final")
            with gr.Column(visible=False, elem_id="gs-topics") as topics_box:
                topic = gr.Radio(choices=[], label="Pick a topic", elem_id="gs-topic")
                own_title = gr.Textbox(
                    label="…or a title of your own", visible=False, elem_id="gs-own-title"
                )
            with gr.Accordion("Research notes", visible=False, elem_id="gs-research-box") as notes:
                research = gr.Markdown(elem_id="gs-research")
            with gr.Column(visible=False, elem_id="gs-draft") as draft_box:
                draft_head = gr.Markdown(elem_id="gs-draft-head")
                editor = gr.Textbox(
                    show_label=False,
                    lines=12,
                    max_lines=24,
                    elem_id="gs-editor",
                    info="Markdown. Edit it here, then Save my edit: it becomes a new version.",
                )
            review = gr.Markdown(visible=False, elem_id="gs-review")
            with gr.Row(equal_height=True, elem_id="gs-fields"):
                count = gr.Number(
                    5,
                    label="How many topics",
                    precision=0,
                    minimum=1,
                    maximum=10,
                    visible=False,
                    elem_id="gs-count",
                )
                with gr.Row(visible=False, elem_id="gs-section-row") as section_row:
                    section = gr.Number(
                        1, label="Section (1 is the first)", precision=0, minimum=1,
                        elem_id="gs-section",
                    )  # fmt: skip
                    instructions = gr.Textbox(
                        label="What should change in it", elem_id="gs-instructions"
                    )
                tone = gr.Textbox(
                    label="Tone", placeholder="conversational", visible=False, elem_id="gs-tone"
                )
                feedback = gr.Textbox(
                    label="What should change (for Request changes)",
                    visible=False,
                    elem_id="gs-feedback",
                )
            with gr.Row(elem_id="gs-actions"):
                buttons = [
                    gr.Button(visible=False, min_width=120, elem_id=f"gs-action-{i}")
                    for i in range(MAX_ACTIONS)
                ]
            with gr.Row(equal_height=False, elem_id="gs-ideas-row"):
                suggest = gr.Button(
                    "Suggest ideas",
                    visible=False,
                    size="sm",
                    scale=0,
                    min_width=160,
                    elem_id="gs-suggest",
                )
                ideas = gr.Markdown(elem_id="gs-ideas")
        with gr.Column(scale=1, min_width=260):
            gr.Markdown("### New session")
            subject = gr.Textbox(
                show_label=False,
                placeholder="A category or a topic, e.g. coffee",
                elem_id="gs-subject",
            )
            create = gr.Button("Start a session", variant="primary", elem_id="gs-create")
            gr.Markdown("### Your sessions")
            sessions = gr.HTML(elem_id="gs-list")
            refresh = gr.Button("↻ Refresh", size="sm", elem_id="gs-refresh")
    return SessionPage(
        tab=tab,
        session_id=session_id,
        status=status,
        live=live,
        topics_box=topics_box,
        topics_key=topics_key,
        topic=topic,
        own_title=own_title,
        notes=notes,
        research=research,
        draft_box=draft_box,
        draft_head=draft_head,
        draft_key=draft_key,
        editor=editor,
        review=review,
        final=final,
        count=count,
        section_row=section_row,
        section=section,
        instructions=instructions,
        tone=tone,
        feedback=feedback,
        buttons=buttons,
        suggest=suggest,
        ideas=ideas,
        timer=timer,
        subject=subject,
        create=create,
        sessions=sessions,
        refresh=refresh,
    )


def wire(
    demo: gr.Blocks,
    page: SessionPage,
    h: SessionHandlers,
    tabs: gr.Tabs,
    follow_opts: dict[str, Any],
) -> None:
    """The view's events; `follow_opts` are the chat's follower options (its group)."""
    view = page.view()
    following = [*view, page.sessions]

    def then_follow(event: Any, api_name: str) -> None:
        event.then(h.follow, [page.tab], following, api_name=api_name, **follow_opts)

    page.session_id.change(None, [page.session_id], [], js=SET_SESSION_URL)
    page.topics_key.change(
        h.topic_picker, [page.tab], [page.topic], api_visibility="private", show_progress="hidden"
    )
    page.draft_key.change(
        h.editor_text, [page.tab], [page.editor], api_visibility="private", show_progress="hidden"
    )
    loaded = demo.load(h.load, [page.tab], [*view, tabs, page.sessions], show_progress="hidden")
    then_follow(loaded, "session_follow_page")
    created = gr.on(
        [page.subject.submit, page.create.click],
        h.create,
        [page.subject, page.tab],
        [*view, page.sessions, page.subject],
        api_name="session_create",
        show_progress="hidden",
    )
    then_follow(created, "session_follow_new")
    for index, button in enumerate(page.buttons):
        acted = button.click(
            h.actor(index),
            [page.tab, *page.filled()],
            [*view, page.own_title, page.instructions, page.feedback],
            api_name=f"session_action_{index}",
            show_progress="hidden",
        )
        then_follow(acted, f"session_follow_action_{index}")
    page.suggest.click(  # waits for the model: in the followers' group, not the default one
        h.suggest,
        [page.tab],
        [page.ideas, page.status],
        api_name="session_suggest",
        show_progress="hidden",
        concurrency_id=follow_opts["concurrency_id"],
        concurrency_limit=follow_opts["concurrency_limit"],
    )
    page.timer.tick(  # "once": no new tick while one is still running
        h.tick,
        [page.tab],
        following,
        api_name="session_tick",
        show_progress="hidden",
        concurrency_id=follow_opts["concurrency_id"],
        concurrency_limit=follow_opts["concurrency_limit"],
    )
    page.refresh.click(
        h.sessions_panel, [page.tab], [page.sessions], api_name="sessions", show_progress="hidden"
    )
    demo.unload(h.unload)
