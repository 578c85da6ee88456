"""Review deadlines across SIGKILL restarts of a real `genflow serve` process.

The deadline lives in the database, not in the process: a server killed while a review
waits and started again after the deadline passed applies the action at once, exactly
once; one restarted between the reminder and the deadline neither repeats the reminder
nor misses the deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import GenFlowServer, write_script
from tests.e2e.test_server_process import (
    assert_contiguous,
    assert_one_terminal,
    stored_events,
    wait_status,
)

pytestmark = pytest.mark.timeout(120)
SWEEP = {"GENFLOW_REVIEW_SWEEP_SECONDS": "1"}


@pytest.fixture
def crashable(tmp_path: Path) -> Iterator[GenFlowServer]:
    script = write_script(tmp_path / "llm.json", [{"answer": "A haiku.", "match": "Task:"}])
    proc = GenFlowServer(data_dir=tmp_path / "data", script=script, extra_env=SWEEP)
    try:
        yield proc
    finally:
        proc.kill()
        proc.stop()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def until(moment: datetime) -> None:
    """Wait for the wall clock to pass `moment` (the condition itself, not a guess)."""
    while datetime.now(UTC) <= moment:
        await asyncio.sleep(0.05)


async def create(http: httpx.AsyncClient, **terms: Any) -> dict[str, Any]:
    response = await http.post(
        "/api/jobs", json={"flow": "review", "input": {"task": "Write a haiku"}, **terms}
    )
    assert response.status_code == 201, response.text
    return response.json()


def of_type(events: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == type_]


async def test_a_deadline_passed_while_the_server_was_dead_applies_at_start(
    crashable: GenFlowServer,
) -> None:
    await crashable.start_async()
    async with crashable.client() as http:
        job = await create(http, review_timeout=4, on_timeout="approve")
        review = (await wait_status(http, job["id"], "waiting_for_review"))["review"]
    crashable.kill()
    deadline = at(review["deadline"])
    await until(deadline)  # the deadline passes while no process runs

    restarted = datetime.now(UTC)
    await crashable.start_async()
    async with crashable.client() as http:
        done = await wait_status(http, job["id"], "completed", "failed", "cancelled", within=20)
        events = await stored_events(http, job["id"])
    assert done["status"] == "completed", done
    assert done["result"] == {"output": "A haiku.", "attempts": 1}
    assert_contiguous(events)
    assert_one_terminal(events)
    (decided,) = of_type(events, "review.decided")
    assert decided["data"]["review_id"] == review["id"]
    assert (decided["data"]["by"], decided["data"]["via"]) == ("genflow", "timeout")
    assert decided["data"]["decision"] == "approve"
    assert at(decided["ts"]) >= restarted, "applied by the new process"
    assert (at(decided["ts"]) - restarted).total_seconds() < 15, "at once on start"
    assert len(of_type(events, "review.reminder")) <= 1  # sent before the kill, or never
    assert [e["data"]["attempt"] for e in of_type(events, "job.started")] == [1, 2]


async def test_a_restart_between_reminder_and_deadline_repeats_and_misses_nothing(
    crashable: GenFlowServer,
) -> None:
    await crashable.start_async()
    async with crashable.client() as http:
        job = await create(http, review_timeout=6, on_timeout="reject")
        review = (await wait_status(http, job["id"], "waiting_for_review"))["review"]
        deadline = time.monotonic() + 20
        while not of_type(await stored_events(http, job["id"]), "review.reminder"):
            assert time.monotonic() < deadline, "no reminder"
            await asyncio.sleep(0.1)
    crashable.kill()
    await crashable.start_async()
    async with crashable.client() as http:
        # reject sends the task back to the model: it asks for a review again, with a deadline
        second = await wait_status(http, job["id"], "waiting_for_review", within=20)
        while second["review"]["id"] == review["id"]:
            second = await wait_status(http, job["id"], "waiting_for_review", within=20)
            await asyncio.sleep(0.1)
        cancel = await http.post(f"/api/jobs/{job['id']}/cancel")
        assert cancel.status_code == 200
        events = await stored_events(http, job["id"])
    assert_contiguous(events)
    reminders = [e for e in of_type(events, "review.reminder")
                 if e["data"]["review_id"] == review["id"]]  # fmt: skip
    assert len(reminders) == 1, "the reminder was not sent again after the restart"
    decided = of_type(events, "review.decided")
    assert [(d["data"]["review_id"], d["data"]["via"]) for d in decided] == [
        (review["id"], "timeout")
    ]
    assert decided[0]["data"]["decision"] == "reject"
    assert at(decided[0]["ts"]) >= at(review["deadline"])
