"""`genflow run`'s terminal view renders the shared fold: each change once, from the view."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any, cast

from backend.cli_follow import TerminalView, bar, follow_job
from backend.client import GenFlowClient
from backend.job_view import JobView


def event(seq: int | None, kind: str, progress: int = 0, **data: Any) -> dict[str, Any]:
    return {"seq": seq, "job_id": "job_1", "type": kind, "progress": progress, "data": data}


EVENTS = [
    event(2, "job.started", attempt=1),
    event(3, "node.started", 10, node="Write", attempt=1),
    event(None, "llm.delta", 10, node="Write", text="Once "),
    event(4, "node.retry", 10, node="Write", attempt=1, error="LLMError: timeout"),
    event(None, "llm.delta", 10, node="Write", text="Twice"),
    event(5, "node.finished", 90, node="Write", duration_ms=1200, summary="2 words"),
    event(6, "job.completed", 100, result={"output": "Twice"}),
]


def terminal() -> TerminalView:
    job = {"id": "job_1", "flow": "review", "status": "pending", "last_seq": 1}
    return TerminalView(JobView.from_job(job), out=io.StringIO(), err=io.StringIO())


def test_each_event_is_written_once_from_the_view() -> None:
    shown = terminal()
    for item in [*EVENTS[:4], EVENTS[1], EVENTS[3], *EVENTS[4:]]:  # a replay in the middle
        shown.show(item)
    out, err = cast(io.StringIO, shown.out).getvalue(), cast(io.StringIO, shown.err).getvalue()
    assert out == "Once \nTwice\n\nTwice\n"
    assert err.splitlines() == [
        f"{bar(10)} ▶ Write",
        f"{bar(10)}   retry Write (attempt 1): LLMError: timeout",
        f"{bar(90)} ✔ Write (1200 ms): 2 words",
        f"{bar(100)} ✔ completed",
    ]
    assert shown.view.status == "completed"


def test_a_batch_items_retry_names_the_item() -> None:
    shown = terminal()
    for item in [
        event(3, "node.started", 50, node="ApplyStyle", attempt=1),
        event(4, "node.retry", 50, node="ApplyStyle", attempt=1, error="Refused", item=0),
    ]:
        shown.show(item)
    err = cast(io.StringIO, shown.err).getvalue()
    assert err.splitlines()[-1] == f"{bar(50)}   retry ApplyStyle, item 1 (attempt 1): Refused"


class StubClient:
    """Streams the events after `after`, and records decisions."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events, self.after = events, -1

    async def follow(self, job_id: str, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        self.after = after
        for item in self.events:
            if item["seq"] is None or item["seq"] > after:
                yield item


async def test_following_starts_after_the_snapshot_and_exits_by_the_outcome() -> None:
    client = StubClient(EVENTS)
    shown = terminal()
    assert await follow_job(cast(GenFlowClient, client), {"id": "job_1"}, shown) == 0
    assert client.after == 1
    failed = StubClient([event(2, "job.failed", error={"type": "E", "message": "down"})])
    shown = terminal()
    assert await follow_job(cast(GenFlowClient, failed), {"id": "job_1"}, shown) == 1
    assert "✘ failed: down" in cast(io.StringIO, shown.err).getvalue()
