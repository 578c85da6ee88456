"""Who sees Cancel: the page's handlers against a stub of the API client, no browser.

The web chat offers Cancel by the API's answer for the person logged in (`may_cancel` on
the job: its owner and admins), not by its own copy of the rule, so a reviewer assigned
to someone else's job sees the decision buttons but no Cancel. (In a real browser
against the real API: test_review_browser.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import gradio as gr
import pytest

from backend.client import GenFlowClient
from ui.handlers import MAX_OPTIONS, Handlers
from ui.session import Session
from ui.settings import UISettings

REVIEW = {"id": "rev_1", "node": "TaskReview", "prompt": "OK?", "options": ["approve", "reject"]}
EVENTS = [
    {"seq": 1, "type": "job.created", "data": {"flow": "review", "input": {"task": "t"}}},
    {"seq": 2, "type": "node.started", "data": {"node": "TaskReview", "attempt": 1}},
    {"seq": 3, "type": "review.requested", "data": REVIEW},
]
# view_outputs: chat, status, review box, prompt, decision row, buttons, Edit, editor,
# cancel, timer, id
BUTTONS, CANCEL = slice(5, 5 + MAX_OPTIONS), 7 + MAX_OPTIONS


class JobAPI:
    """alice's job waiting for review, as the API answers the person it stands for: the
    owner (or an admin) may cancel it, its assignee may not."""

    def __init__(self, *, may_cancel: bool) -> None:
        self.may_cancel = may_cancel

    def snapshot(self, status: str = "waiting_for_review") -> dict[str, Any]:
        return {"id": "job_1", "flow": "review", "status": status, "input": {"task": "t"},
                "owner": "alice", "review": REVIEW, "last_seq": len(EVENTS),
                "may_cancel": self.may_cancel,
                "may_decide": status == "waiting_for_review"}  # fmt: skip

    async def job(self, job_id: str) -> dict[str, Any]:
        return self.snapshot()

    async def create_job(self, flow: str, input_: dict[str, Any]) -> dict[str, Any]:
        return {**self.snapshot("pending"), "review": None, "last_seq": 1}

    async def follow(self, job_id: str, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        for event in EVENTS[after:]:
            yield event

    async def jobs(self, **params: Any) -> dict[str, Any]:
        return {"jobs": [], "next_cursor": None}

    async def flows(self) -> list[dict[str, Any]]:
        schema = {"type": "object", "properties": {"task": {"type": "string"}}}
        return [{"name": "review", "title": "Do a task", "input_schema": schema}]


def handlers(api: object, tmp_path: Path) -> Handlers:
    """The page's handlers, calling `api` (a stand-in for the API client)."""
    return Handlers(lambda request: cast(GenFlowClient, api), UISettings(artifact_dir=tmp_path))


def link(job_id: str = "job_1") -> gr.Request:
    """A page opened from a job's link (`?job=…`)."""
    return gr.Request(session_hash="page-1", query_params={"job": job_id})


def shown(update: Any) -> bool:
    return bool(update.visible)


async def opened_from_a_link(h: Handlers) -> tuple[Any, ...]:
    """Load the page and follow its job to the review; the view as it then renders."""
    session, request = Session(), link()
    loaded = await h.load(session, request)
    assert not shown(loaded[CANCEL])  # not known yet: no Cancel until the API says
    outputs = [out async for out in h.follow(session, request)]
    assert session.view is not None and session.view.open_review == REVIEW
    return outputs[-1]


@pytest.mark.parametrize(("may_cancel", "who"), [(True, "owner"), (False, "assignee")])
async def test_cancel_is_shown_to_whom_the_api_lets_cancel(
    tmp_path: Path, may_cancel: bool, who: str
) -> None:
    out = await opened_from_a_link(handlers(JobAPI(may_cancel=may_cancel), tmp_path))
    assert [b.value for b in out[BUTTONS] if shown(b)] == ["Approve", "Reject"], who
    assert shown(out[CANCEL]) is may_cancel, who


async def test_a_job_started_here_has_cancel_until_it_ends(tmp_path: Path) -> None:
    h = handlers(JobAPI(may_cancel=True), tmp_path)
    session = Session()
    out = await h.start("/task t", "review", session, gr.Request(session_hash="page-1"))
    assert session.view is not None and session.view.job_id == "job_1"
    assert shown(out[CANCEL])
    session.view.apply({"seq": 4, "type": "job.cancelled", "data": {"by": "alice"}})
    assert not shown(h.view_outputs(session)[CANCEL])
