"""Review deadlines in one server: a reminder at half time, the action at the deadline,
each exactly once; a decision made first wins; a flow's default and a job's override."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pocketflow import AsyncFlow

from flows.gate import HumanReview
from flows.registry import FlowSpec, default_flows
from tests.backend.test_reviews import Done, Draft, create, decide, of_type
from tests.harness import Harness, running_app


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def wait_for_events(
    h: Harness, job_id: str, condition: Any, *, within: float = 20.0
) -> list[dict[str, Any]]:
    """Poll the job's stored events until `condition(events)` holds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        events = await h.events(job_id)
        if condition(events):
            return events
        assert asyncio.get_running_loop().time() < deadline, [e["type"] for e in events]
        await asyncio.sleep(0.05)


def ended(events: list[dict[str, Any]]) -> bool:
    return events[-1]["type"] in ("job.completed", "job.failed", "job.cancelled")


class Sign(HumanReview):
    """A gate with a default deadline of an hour, after which it approves."""

    options = ("approve", "reject")
    timeout = 3600
    on_timeout = "approve"

    def payload(self, shared: dict) -> dict[str, Any]:
        return {"text": shared["text"]}


def signed() -> AsyncFlow:
    draft, sign, done = Draft(), Sign(), Done()
    draft >> sign
    sign - "approve" >> done
    return AsyncFlow(start=draft)


@pytest.fixture
async def h(tmp_path: Path):
    flows = {
        **default_flows(),
        "signed": FlowSpec(
            name="signed",
            title="Signed",
            description="a default deadline",
            input_schema={"type": "object"},
            build=lambda _input: signed(),
            review_options=Sign.options,
        ),
    }
    async with running_app(tmp_path, flows=flows, review_sweep_seconds=1) as harness:
        yield harness


async def test_a_short_deadline_reminds_once_then_applies_its_action_once(h: Harness) -> None:
    job = await create(
        h, "review", {"task": "Write a haiku"}, review_timeout=2, on_timeout="approve"
    )
    assert (job["review_timeout"], job["on_timeout"]) == (2, "approve")
    waiting = await h.wait_for(job["id"], "waiting_for_review")
    review = waiting["review"]
    requested, deadline = at(review["requested_at"]), at(review["deadline"])
    assert deadline - requested == timedelta(seconds=2)
    assert review["on_timeout"] == "approve" and review["reminded_at"] is None

    events = await wait_for_events(h, job["id"], ended)
    done = await h.job(job["id"])
    assert done["status"] == "completed"
    assert done["result"] == {"output": "An answer to the task.", "attempts": 1}
    (reminder,) = [e for e in events if e["type"] == "review.reminder"]
    (decided,) = [e for e in events if e["type"] == "review.decided"]
    assert reminder["seq"] < decided["seq"]
    assert reminder["data"]["review_id"] == review["id"] == decided["data"]["review_id"]
    assert reminder["data"]["deadline"] == review["deadline"]
    assert at(reminder["ts"]) >= requested + timedelta(seconds=1), "not before half time"
    assert {k: decided["data"][k] for k in ("decision", "by", "via")} == {
        "decision": "approve",
        "by": "genflow",
        "via": "timeout",
    }
    assert at(decided["ts"]) >= deadline, "not before the deadline"
    # nothing is left to fire: another sweep, even far in the future, does nothing
    assert await h.services.deadlines.sweep(deadline + timedelta(days=1)) == (0, 0)
    assert await h.events(job["id"]) == events

    audit = await (
        await h.client.get(f"/api/jobs/{job['id']}/reviews", headers=h.headers())
    ).get_json()
    (entry,) = audit["reviews"]
    assert entry["state"] == "timed_out" and entry["decision"]["via"] == "timeout"
    assert entry["reminded_at"] == reminder["data"]["reminded_at"]


async def test_cancel_as_the_deadline_action(h: Harness) -> None:
    job = await create(
        h, "review", {"task": "Write a haiku"}, review_timeout=1, on_timeout="cancel"
    )
    events = await wait_for_events(h, job["id"], ended)
    assert (await h.job(job["id"]))["status"] == "cancelled"
    assert [e["type"] for e in events][-2:] == ["review.decided", "job.cancelled"]
    (decided,) = of_type(events, "review.decided")
    assert (decided["decision"], decided["by"], decided["via"]) == ("cancel", "genflow", "timeout")
    assert of_type(events, "job.cancelled") == [{"by": "genflow"}]
    assert h.services.queue.active() == 0


async def test_a_decision_just_before_the_deadline_wins(h: Harness) -> None:
    job = await create(
        h, "review", {"task": "Write a haiku"}, review_timeout=60, on_timeout="reject"
    )
    waiting = await h.wait_for(job["id"], "waiting_for_review")
    deadline = at(waiting["review"]["deadline"])
    assert (await decide(h, waiting, "alice", decision="approve")).status_code == 200
    # the sweep comes a moment later, the deadline passed: it changes nothing
    assert await h.services.deadlines.sweep(deadline + timedelta(seconds=1)) == (0, 0)
    events = await wait_for_events(h, job["id"], ended)
    assert [(d["decision"], d["by"]) for d in of_type(events, "review.decided")] == [
        ("approve", "alice")
    ]
    assert of_type(events, "review.reminder") == []
    assert await h.services.store.due_reviews(deadline + timedelta(days=1)) == []


async def test_racing_sweeps_and_a_decision_make_exactly_one_decision(h: Harness) -> None:
    for _ in range(3):
        job = await create(h, "review", {"task": "Write a haiku"}, review_timeout=60)
        waiting = await h.wait_for(job["id"], "waiting_for_review")
        past = at(waiting["review"]["deadline"]) + timedelta(seconds=1)
        sweeps = [h.services.deadlines.sweep(past) for _ in range(8)]
        answer, *swept = await asyncio.gather(
            decide(h, waiting, "alice", decision="approve"), *sweeps
        )
        timeouts = sum(timed_out for _, timed_out in swept)
        events = await wait_for_events(h, job["id"], ended)
        decided = of_type(events, "review.decided")
        assert len(decided) == 1, decided
        if answer.status_code == 200:
            assert timeouts == 0 and decided[0]["by"] == "alice"
            assert (await h.job(job["id"]))["status"] == "completed"
        else:
            assert answer.status_code == 409 and timeouts == 1
            assert (await answer.get_json())["error"]["details"]["by"] == "genflow"
            assert (await h.job(job["id"]))["status"] == "cancelled"  # the default action


async def test_a_reminder_and_deadline_both_past_apply_only_the_deadline(h: Harness) -> None:
    job = await create(
        h, "review", {"task": "Write a haiku"}, review_timeout=60, on_timeout="approve"
    )
    waiting = await h.wait_for(job["id"], "waiting_for_review")
    past = at(waiting["review"]["deadline"]) + timedelta(seconds=1)
    assert await h.services.deadlines.sweep(past) == (0, 1)  # the server was down through both
    events = await wait_for_events(h, job["id"], ended)
    assert of_type(events, "review.reminder") == []
    assert len(of_type(events, "review.decided")) == 1


async def test_a_cancelled_job_loses_its_timer(h: Harness) -> None:
    job = await create(h, "review", {"task": "Write a haiku"}, review_timeout=60)
    waiting = await h.wait_for(job["id"], "waiting_for_review")
    await h.client.post(f"/api/jobs/{job['id']}/cancel", headers=h.headers())
    past = at(waiting["review"]["deadline"]) + timedelta(seconds=1)
    store = h.services.store
    assert [r.id for _, r in await store.due_reviews(past)] == [waiting["review"]["id"]]
    assert await h.services.deadlines.sweep(past) == (0, 0)
    assert await store.due_reviews(past) == []
    assert of_type(await h.events(job["id"]), "review.decided") == []


async def test_a_flow_default_deadline_and_a_jobs_own_terms(h: Harness) -> None:
    default = await create(h, "signed", {})
    waiting = await h.wait_for(default["id"], "waiting_for_review")
    review = waiting["review"]
    assert at(review["deadline"]) - at(review["requested_at"]) == timedelta(hours=1)
    assert review["on_timeout"] == "approve"
    half = at(review["requested_at"]) + timedelta(minutes=31)
    assert await h.services.deadlines.sweep(half) == (1, 0)
    assert await h.services.deadlines.sweep(half) == (0, 0), "one reminder"
    (reminded,) = of_type(await h.events(default["id"]), "review.reminder")
    assert (await h.job(default["id"]))["review"]["reminded_at"] == reminded["reminded_at"]
    assert await h.services.deadlines.sweep(at(review["deadline"])) == (0, 1)
    assert (await h.wait_for(default["id"]))["status"] == "completed"

    mine = await create(h, "signed", {}, review_timeout=30, on_timeout="cancel")
    review = (await h.wait_for(mine["id"], "waiting_for_review"))["review"]
    assert at(review["deadline"]) - at(review["requested_at"]) == timedelta(seconds=30)
    assert review["on_timeout"] == "cancel"

    plain = await create(h, "review", {"task": "Write a haiku"})
    review = (await h.wait_for(plain["id"], "waiting_for_review"))["review"]
    assert (review["deadline"], review["on_timeout"]) == (None, None)
