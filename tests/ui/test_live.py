"""The follower of a tab's job, against a stub of the API client: when it ends, and who
may update the view."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from backend.client import GenFlowClient, Unreachable
from backend.job_view import JobView
from ui import live
from ui.artifacts import ArtifactFiles
from ui.conversation import ChatView
from ui.session import Session

REVIEW = {"id": "rev_1", "node": "TaskReview", "prompt": "OK?", "options": ["approve", "reject"]}


class StubAPI:
    """Serves one job: its events so far, more as tests append them, and its state."""

    def __init__(self, *kinds: tuple[str, dict[str, Any]], status: str = "running") -> None:
        self.events: list[dict[str, Any]] = []
        self.status, self.review = status, None
        self.down = False
        self.changed = asyncio.Condition()
        for kind, data in kinds:
            self.add(kind, data)

    def add(self, kind: str, data: dict[str, Any]) -> None:
        seq = len(self.events) + 1
        self.events.append({"seq": seq, "type": kind, "progress": 0, "data": data})
        if kind == "review.requested":
            self.status, self.review = "waiting_for_review", data
        elif kind == "review.decided":
            self.status, self.review = "running", None

    async def publish(self, kind: str, data: dict[str, Any]) -> None:
        async with self.changed:
            self.add(kind, data)
            self.changed.notify_all()

    async def job(self, job_id: str) -> dict[str, Any]:
        if self.down:
            raise Unreachable("http://api", "connection refused")
        return {"id": job_id, "status": self.status, "review": self.review,
                "last_seq": len(self.events)}  # fmt: skip

    async def follow(self, job_id: str, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        while True:
            for event in self.events[after:]:
                after = event["seq"]
                yield event
                if event["type"] in ("job.completed", "job.failed", "job.cancelled"):
                    return
            async with self.changed:
                while len(self.events) <= after:
                    await self.changed.wait()

    async def artifact(self, artifact_id: str) -> tuple[bytes, str]:
        return b"png", "image/png"


def session_for(job_id: str = "job_1") -> Session:
    session = Session()
    session.open(ChatView(JobView(job_id)))
    return session


async def run(api: StubAPI, session: Session, tmp_path: Path) -> int:
    """Follow to the end (bounded); how many times the view was rendered."""
    client = cast(GenFlowClient, api)
    renders = 0

    async def go() -> None:
        nonlocal renders
        async for _ in live.follow(client, session, ArtifactFiles(tmp_path), retry=0.01):
            renders += 1

    await asyncio.wait_for(go(), 5)
    return renders


async def test_replays_then_ends_while_the_job_waits_for_review(tmp_path: Path) -> None:
    api = StubAPI(
        ("job.created", {"flow": "review", "input": {"task": "t"}}),
        ("node.started", {"node": "TaskReview", "attempt": 1}),
        ("review.requested", REVIEW),
    )
    session = session_for()
    assert await run(api, session, tmp_path) >= 1
    assert session.view is not None and session.view.open_review == REVIEW
    assert not session.following

    await api.publish("review.decided", {"review_id": "rev_1", "decision": "approve",
                                         "by": "ana", "via": "slack"})  # fmt: skip
    assert await live.moved_on(cast(GenFlowClient, api), session)
    await api.publish("job.completed", {"result": {"output": "t"}})
    await run(api, session, tmp_path)  # a fresh follower picks up where the view was
    assert session.view.finished
    assert session.view.messages()[-2]["content"] == "✔ **Approved** via slack by ana"


async def test_a_reminder_while_the_job_waits_is_caught_up(tmp_path: Path) -> None:
    """The follower ended at the review; the reminder comes later: the poll notices it
    and a fresh follower folds it in, and ends again (the review is still open)."""
    api = StubAPI(
        ("job.created", {"flow": "review", "input": {"task": "t"}}),
        ("review.requested", REVIEW),
    )
    session = session_for()
    await run(api, session, tmp_path)
    client = cast(GenFlowClient, api)
    assert not await live.moved_on(client, session)  # nothing new yet

    await api.publish("review.reminder", {"review_id": "rev_1", "reminded_at": "2026-01-01T12:00Z"})
    assert await live.moved_on(client, session)
    await run(api, session, tmp_path)
    assert session.view is not None and session.view.open_review is not None
    assert session.view.open_review["reminded_at"] == "2026-01-01T12:00Z"
    assert "◷ **Reminder:**" in session.view.messages()[-1]["content"]
    assert not await live.moved_on(client, session)


async def test_an_old_review_in_the_history_does_not_stop_the_replay(tmp_path: Path) -> None:
    api = StubAPI(
        ("job.created", {"flow": "review", "input": {"task": "t"}}),
        ("review.requested", REVIEW),
        ("review.decided", {"review_id": "rev_1", "decision": "approve", "by": "a", "via": "api"}),
        ("job.completed", {"result": {"output": "t"}}),
        status="completed",
    )
    session = session_for()
    await run(api, session, tmp_path)
    assert session.view is not None and session.view.finished


async def test_a_newer_follower_takes_over_the_view(tmp_path: Path) -> None:
    api = StubAPI(("job.created", {"flow": "article", "input": {"topic": "t"}}))
    session = session_for()
    client = cast(GenFlowClient, api)
    first = live.follow(client, session, ArtifactFiles(tmp_path))
    await asyncio.wait_for(anext(first), 5)  # replayed; now it waits for live events
    second = live.follow(client, session, ArtifactFiles(tmp_path))
    second_render = asyncio.ensure_future(anext(second))
    await asyncio.sleep(0)  # the second one takes over
    await api.publish("node.started", {"node": "GenerateOutline", "attempt": 1})

    ended = asyncio.ensure_future(anext(first))
    await asyncio.wait_for(second_render, 5)
    await asyncio.wait_for(asyncio.wait([ended]), 5)
    assert isinstance(ended.exception(), StopAsyncIteration)  # the first ended quietly
    assert session.view is not None and len(session.view.messages()) == 2
    await second.aclose()
    assert not session.following


async def test_an_unreachable_api_is_shown_until_it_answers(tmp_path: Path) -> None:
    api = StubAPI(("job.created", {"flow": "article", "input": {"topic": "t"}}))
    api.down = True
    session = session_for()
    follower = live.follow(cast(GenFlowClient, api), session, ArtifactFiles(tmp_path), retry=0.01)
    waiting = asyncio.ensure_future(anext(follower))
    for _ in range(100):
        if session.problem:
            break
        await asyncio.sleep(0.01)
    assert session.problem is not None and "unreachable" in session.problem
    api.down = False
    await asyncio.wait_for(waiting, 5)
    assert session.problem is None
    await follower.aclose()
