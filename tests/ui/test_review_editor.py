"""The review editor's handlers (`ui.review_editor`) against a stub of the API client, no
browser: Edit fills the boxes from the review and hides the one-click buttons, only the
changed fields are sent, as an `edit` `via web`, and nothing at all when nothing changed.
(In a real browser against the real API: test_review_browser.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import gradio as gr
import pytest

from backend.client import APIError, GenFlowClient
from backend.reviews.edits import diffs
from ui.conversation import ChatView
from ui.handlers import MAX_OPTIONS, Handlers
from ui.review_editor import MAX_FIELDS, NOTHING_CHANGED, ReviewEditor, edits_of
from ui.session import Session
from ui.settings import UISettings

ARTICLE_REVIEW = {
    "id": "rev_1",
    "node": "ArticleReview",
    "prompt": "Approve the article, edit it yourself, or ask for a revision",
    "options": ["approve", "revise", "edit"],
    "editable": ["title", "markdown"],
    "payload": {"title": "Tea", "markdown": "# Tea\n\nHot water.", "artifact_id": "art_1"},
}
# view_outputs: chat, status, review box, prompt, decision row, buttons, Edit, editor, …
BUTTONS = slice(5, 5 + MAX_OPTIONS)
EDIT, EDITOR = 5 + MAX_OPTIONS, 6 + MAX_OPTIONS


class StubAPI:
    """Records decisions; answers `refuse` (an APIError) instead, when set."""

    def __init__(self) -> None:
        self.decided: list[dict[str, Any]] = []
        self.refuse: APIError | None = None

    async def decide(self, job_id: str, review_id: str, decision: str, **rest: Any) -> dict:
        if self.refuse is not None:
            raise self.refuse
        self.decided.append({"job": job_id, "review": review_id, "decision": decision, **rest})
        return {}


@pytest.fixture
def api() -> StubAPI:
    return StubAPI()


@pytest.fixture
def editor(api: StubAPI, tmp_path: Path) -> ReviewEditor:
    settings = UISettings(artifact_dir=tmp_path)
    return ReviewEditor(Handlers(lambda request: cast(GenFlowClient, api), settings))


def waiting(review: dict[str, Any]) -> Session:
    session = Session()
    job = {"id": "job_1", "flow": "article", "status": "waiting_for_review", "review": review,
           "owner": "alice", "may_decide": True}  # fmt: skip
    session.open(ChatView.of_job(job))
    return session


def shown(update: Any) -> bool:
    return bool(update.visible)


def request() -> gr.Request:
    return gr.Request(session_hash="page-1")


def test_edit_opens_the_reviews_editable_text_in_place_of_the_buttons(
    editor: ReviewEditor,
) -> None:
    session = waiting(ARTICLE_REVIEW)
    before = editor.h.view_outputs(session)
    assert [b.value for b in before[BUTTONS] if shown(b)] == ["Approve", "Revise"]
    assert shown(before[EDIT]) and not shown(before[EDITOR])

    out = editor.open(session)
    view, boxes = out[:-MAX_FIELDS], out[-MAX_FIELDS:]
    assert [b for b in view[BUTTONS] if shown(b)] == [] and not shown(view[EDIT])
    assert shown(view[EDITOR])
    assert [(b.label, b.value) for b in boxes if shown(b)] == [
        ("Your edit of the title", "Tea"),
        ("Your edit of the article (Markdown)", "# Tea\n\nHot water."),
    ]

    editor.close(session)  # Cancel edit: the buttons again, nothing sent
    after = editor.h.view_outputs(session)
    assert shown(after[EDIT]) and not shown(after[EDITOR])


async def test_only_the_changed_fields_are_sent_as_an_edit_via_web(
    editor: ReviewEditor, api: StubAPI
) -> None:
    session = waiting(ARTICLE_REVIEW)
    editor.open(session)
    out = await editor.submit(request(), " shorter ", session, "Tea", "# Tea\n\nBoiled.", "")
    assert api.decided == [
        {"job": "job_1", "review": "rev_1", "decision": "edit", "comment": "shorter",
         "via": "web", "edits": {"markdown": "# Tea\n\nBoiled."}},
    ]  # fmt: skip
    assert out[-1] == ""  # the comment went with it
    assert not shown(out[EDITOR]) and not shown(out[EDIT])  # decided: no buttons until news
    assert session.view is not None and session.view.editing is None


async def test_the_decided_edit_shows_in_the_chat_as_what_was_removed_and_added(
    editor: ReviewEditor, api: StubAPI
) -> None:
    session = waiting(ARTICLE_REVIEW)
    editor.open(session)
    await editor.submit(request(), "", session, "Tea", "# Tea\n\nBoiled.", "")
    edits = api.decided[0]["edits"]
    recorded = {"review_id": "rev_1", "decision": "edit", "by": "alice", "via": "web",
                "edits": edits, "diff": diffs(ARTICLE_REVIEW["payload"], edits)}  # fmt: skip
    assert session.view is not None  # the follower then folds what the API recorded
    session.view.apply({"seq": 1, "type": "review.decided", "data": recorded})
    chat = editor.h.view_outputs(session)[0]
    decision, changes = chat[-2:]
    assert decision["content"] == "✎ **Approved with edits** via web by alice"
    assert changes["metadata"]["title"] == "Changes to the article (Markdown)"
    assert changes["content"].splitlines()[-3:] == ["-Hot water.", "+Boiled.", "```"]


async def test_nothing_changed_sends_nothing_and_says_so(
    editor: ReviewEditor, api: StubAPI
) -> None:
    session = waiting(ARTICLE_REVIEW)
    editor.open(session)
    out = await editor.submit(request(), "", session, "Tea", "# Tea\n\nHot water.", "")
    assert api.decided == []
    assert out[0][-1]["content"] == NOTHING_CHANGED
    assert shown(out[EDITOR])  # still editing


async def test_a_refused_edit_keeps_the_editor_and_the_text(
    editor: ReviewEditor, api: StubAPI
) -> None:
    session = waiting(ARTICLE_REVIEW)
    editor.open(session)
    api.refuse = APIError(422, "invalid_input", "these edits cannot be made to this review")
    out = await editor.submit(request(), "", session, "Coffee", "# Tea\n\nHot water.", "")
    assert "These edits cannot be made to this review" in out[0][-1]["content"]
    assert shown(out[EDITOR]) and out[-1] != ""  # the comment is not cleared
    api.refuse = APIError(409, "conflict", "review already decided")
    out = await editor.submit(request(), "", session, "Coffee", "# Tea\n\nHot water.", "")
    assert out[0][-1]["content"] == "⚠ **Someone else decided first.**"
    assert not shown(out[EDITOR])


def test_a_review_without_editable_text_has_no_edit_button(editor: ReviewEditor) -> None:
    image = {"id": "rev_2", "options": ["approve", "regenerate"], "payload": {"url": "/a"}}
    session = waiting(image)
    assert not shown(editor.h.view_outputs(session)[EDIT])
    out = editor.open(session)  # a stale click: nothing opens
    assert not shown(out[EDITOR]) and session.view is not None and session.view.editing is None


def test_the_edits_are_the_boxes_that_differ_from_their_fields() -> None:
    fields = {"title": "Tea", "markdown": "Hot."}
    assert edits_of(fields, ["Tea", "Hot!", ""]) == {"markdown": "Hot!"}
    assert edits_of(fields, ["", "Hot."]) == {"title": ""}  # emptied is a change
    assert edits_of(fields, [None, None, None]) == {}  # a box the page did not send
