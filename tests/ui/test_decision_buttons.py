"""Who sees the decision buttons: the page's handlers against a stub of the API client,
no browser.

The web chat offers Approve / Reject (and Edit, and the comment box) by the API's answer
for the person logged in (`may_decide` on the job: the owner, admins and the open
review's assignees), not by its own copy of the rule. Someone who sees the job but may
not decide its open review (dave, assignee of the first of two gates, looking at the
second, erin's) sees no buttons, and is told whose decision it waits for. (In a real
browser against the real API: test_review_browser.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from backend.client import GenFlowClient
from tests.ui.test_cancel_button import handlers, link, shown
from ui import live
from ui.handlers import MAX_OPTIONS, Handlers
from ui.session import Session

LEGAL = {"id": "rev_legal", "node": "Legal", "prompt": "Legal OK?",
         "options": ["approve", "reject"], "assignees": ["dave"]}  # fmt: skip
EDITOR = {"id": "rev_editor", "node": "Editor", "prompt": "Is the draft good?",
          "options": ["approve", "reject", "edit"], "assignees": ["erin"],
          "editable": ["text"], "payload": {"text": "a draft"}}  # fmt: skip
EVENTS = [
    {"seq": 1, "type": "job.created", "data": {"flow": "two_gates", "input": {}}},
    {"seq": 2, "type": "node.started", "data": {"node": "Legal", "attempt": 1}},
    {"seq": 3, "type": "review.requested", "data": LEGAL},
    {"seq": 4, "type": "review.decided",
     "data": {"review_id": "rev_legal", "decision": "approve", "by": "dave", "via": "web"}},
    {"seq": 5, "type": "node.finished", "data": {"node": "Legal", "duration_ms": 5}},
    {"seq": 6, "type": "node.started", "data": {"node": "Editor", "attempt": 1}},
    {"seq": 7, "type": "review.requested", "data": EDITOR},
]  # fmt: skip
# view_outputs: chat, status, review box, prompt, decision row, buttons, Edit, editor,
# cancel, timer, id
BOX, PROMPT, ROW = 2, 3, 4
BUTTONS, EDIT, TIMER = slice(5, 5 + MAX_OPTIONS), 5 + MAX_OPTIONS, 8 + MAX_OPTIONS


class JobAPI:
    """alice's two-gate job, as the API answers the person it stands for: `deciders` are
    the names the decide route would let decide each review (reviews/access.py)."""

    def __init__(self, person: str, *, upto: int = len(EVENTS)) -> None:
        self.person, self.upto = person, upto
        self.then: int | None = None  # the job moves on to this event once it was read
        self.deciders = {"rev_legal": {"alice", "dave"}, "rev_editor": {"alice", "erin"}}
        self.snapshots = 0

    def snapshot(self) -> dict[str, Any]:
        self.snapshots += 1
        shown = EVENTS[: self.upto]
        self.upto = self.then or self.upto
        review = next((e["data"] for e in reversed(shown) if e["type"].startswith("review.")), None)
        if review is not None and "review_id" in review:  # decided: none open
            review = None
        status = "waiting_for_review" if review else "running"
        may = review is not None and self.person in self.deciders[review["id"]]
        return {"id": "job_1", "flow": "two_gates", "status": status, "input": {},
                "owner": "alice", "review": review, "last_seq": len(shown),
                "may_cancel": self.person == "alice", "may_decide": may}  # fmt: skip

    async def job(self, job_id: str) -> dict[str, Any]:
        return self.snapshot()

    async def follow(self, job_id: str, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        for event in EVENTS[after : self.upto]:
            yield event

    async def jobs(self, **params: Any) -> dict[str, Any]:
        return {"jobs": [], "next_cursor": None}

    async def flows(self) -> list[dict[str, Any]]:
        return [{"name": "two_gates", "title": "Two gates", "input_schema": {"type": "object"}}]


def texts(chat: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in chat if isinstance(m["content"], str)]


async def opened(h: Handlers, session: Session) -> tuple[Any, ...]:
    """Load the page from the job's link and follow the job; the view as it then renders."""
    request = link()
    loaded = await h.load(session, request)
    assert not shown(loaded[BOX])  # no job known yet: no panel
    outputs = [out async for out in h.follow(session, request)]
    assert session.view is not None and session.view.open_review is not None
    return outputs[-1]


async def test_a_viewer_who_may_not_decide_sees_no_buttons_and_whose_decision_it_is(
    tmp_path: Path,
) -> None:
    session = Session()
    out = await opened(handlers(JobAPI("dave"), tmp_path), session)
    assert [b.value for b in out[BUTTONS] if shown(b)] == []
    assert not shown(out[ROW]) and not shown(out[EDIT])  # nor the comment box, nor Edit
    assert shown(out[BOX])
    assert out[PROMPT] == (
        "⏳ **Waiting for a decision by erin or alice (the job's owner).** You can follow "
        "this review here, but it is not yours to decide."
    )
    chat = texts(out[0])
    # The review dave decided still asked him; the open one says whose it is.
    assert any(t.startswith("⚑ **Your review, please:** Legal OK?") for t in chat)
    assert any(t.startswith("⚑ **A review for erin or alice (the job's owner):**") for t in chat)
    assert not any("Your review, please:** Is the draft good?" in t for t in chat)


@pytest.mark.parametrize("who", ["alice", "erin"])  # the owner; the open review's assignee
async def test_who_may_decide_sees_the_buttons_edit_and_the_comment_box(
    tmp_path: Path, who: str
) -> None:
    out = await opened(handlers(JobAPI(who), tmp_path), Session())
    assert [b.value for b in out[BUTTONS] if shown(b)] == ["Approve", "Reject"], who
    assert shown(out[ROW]) and shown(out[EDIT]) and shown(out[BOX]), who
    assert out[PROMPT] == "**Your decision:** Is the draft good?", who


async def test_a_review_that_opens_while_following_is_judged_by_the_api(tmp_path: Path) -> None:
    """The page followed dave's decision of the first gate: the snapshot it started from
    had no review open, so when the second opens the follower asks the API (a snapshot)
    before showing any button, and shows none: it is erin's."""
    api = JobAPI("dave", upto=5)  # legal decided, the job running
    h, session = handlers(api, tmp_path), Session()
    request = link()
    await h.load(session, request)
    [_ async for _ in h.follow(session, request)]
    assert session.view is not None and session.view.review is None
    api.then, before = len(EVENTS), api.snapshots  # the editor's review opens after a read
    out = [o async for o in h.follow(session, request)][-1]
    assert api.snapshots == before + 2  # the follower's start, and the review that opened
    assert [b.value for b in out[BUTTONS] if shown(b)] == [] and not shown(out[ROW])
    assert out[PROMPT].startswith("⏳ **Waiting for a decision by erin or alice")


async def test_until_the_api_says_there_is_no_panel_and_the_timer_asks(tmp_path: Path) -> None:
    """A review this page has not heard about from the API (its snapshot failed) shows
    no panel; the review timer's poll counts that as news, so a new follower asks."""
    api = JobAPI("erin")
    h, session = handlers(api, tmp_path), Session()
    out = await opened(h, session)
    assert session.view is not None
    session.view.judged = None  # as if the snapshot after review.requested had failed
    out = h.view_outputs(session)
    assert not shown(out[BOX]) and not shown(out[ROW]) and out[PROMPT] == ""
    assert out[TIMER].active  # the page polls while a review is open
    assert await live.moved_on(cast(GenFlowClient, api), session) is True
    ticked = [o async for o in h.tick(session, link())][-1]
    assert [b.value for b in ticked[BUTTONS] if shown(b)] == ["Approve", "Reject"]
    assert shown(ticked[ROW])
