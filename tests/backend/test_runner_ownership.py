"""Who may write for a job: the runner holding its current claim, and nobody else.

A runner whose job was taken over stops without writing; a node that runs again after a
crash leaves one artifact behind; a database outage pauses a job instead of failing it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from pocketflow import AsyncFlow, AsyncNode

from backend.domain import JobStatus
from backend.errors import StoreUnavailable
from backend.runtime.states import ACTIVE
from backend.store.base import JobUpdate
from backend.store.sqlalchemy import SQLStore
from flows import context
from tests.backend.test_runner import Finish, spec
from tests.backend.test_store_leases import rename_table
from tests.harness import running_app


class Gate:
    """Holds a node until the test lets it go, and says when the node got there."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.visits = 0


def held_flow(gate: Gate, *, artifact: bool = False) -> Any:
    class Held(AsyncNode):
        async def exec_async(self, prep_res: Any) -> str:
            gate.visits += 1
            if artifact:
                await context.save_artifact(
                    b"picture", mime="image/png", kind="image", name="a.png"
                )
            gate.reached.set()
            await gate.release.wait()
            return "done"

        async def post_async(self, shared: dict, prep_res: Any, exec_res: str) -> str:
            shared["held"] = exec_res
            return "default"

    class First(AsyncNode):
        async def post_async(self, shared: dict, prep_res: Any, exec_res: Any) -> str:
            shared["first"] = True
            return "default"

    def build() -> AsyncFlow:
        first, held = First(), Held()
        first >> held >> Finish()
        return AsyncFlow(start=first)

    return spec("held", build)


async def test_a_runner_whose_job_was_taken_over_writes_nothing_more(tmp_path: Path) -> None:
    gate = Gate()
    async with running_app(tmp_path, flows=held_flow(gate)) as h:
        job = await h.create("held", {})
        await asyncio.wait_for(gate.reached.wait(), 10)
        thief = await h.services.store.claim_job(
            job["id"], owner="another-worker", lease_seconds=60, steal=True
        )
        assert thief is not None and thief[0].attempts == 2
        before = await h.events(job["id"])
        gate.release.set()
        while h.services.queue.active():  # the first run ends on its own
            await asyncio.sleep(0.01)
        after = await h.events(job["id"])
        assert after == before, "the first runner wrote after losing the job"
        assert after[-1]["type"] == "job.started" and after[-1]["data"]["attempt"] == 2
        assert (await h.job(job["id"]))["status"] == "running"  # the other worker's now


async def test_a_cancel_the_bus_lost_stops_the_run_once_the_bus_says_it_lagged(
    tmp_path: Path,
) -> None:
    """A worker watches its jobs for a cancel made on another replica; when the bus may
    have missed one (Redis down, or a subscription just gone live), it asks the store."""
    gate = Gate()
    async with running_app(tmp_path, flows=held_flow(gate)) as h:
        runner = h.services.runner
        runner.distributed = True  # as a `genflow worker` runs jobs
        runner.settings = replace(runner.settings, lease_seconds=3600)  # no renewal meanwhile
        job = await h.create("held", {})
        await asyncio.wait_for(gate.reached.wait(), 10)
        cancel = JobUpdate(status=JobStatus.CANCELLED)
        assert await h.services.store.update_job(job["id"], cancel, expect=ACTIVE) is not None
        h.services.bus.lag([job["id"]])  # its job.cancelled never came
        async with asyncio.timeout(10):
            while h.services.queue.active():  # the held node is stopped, not released
                await asyncio.sleep(0.01)
        assert not gate.release.is_set()
        assert (await h.job(job["id"]))["status"] == "cancelled"


async def test_a_node_run_again_after_a_crash_leaves_one_artifact(tmp_path: Path) -> None:
    gate = Gate()
    async with running_app(tmp_path, flows=held_flow(gate, artifact=True)) as h:
        job = await h.create("held", {})
        await asyncio.wait_for(gate.reached.wait(), 10)
        h.services.queue.cancel(job["id"])  # the process "dies" mid-node
        while h.services.queue.active():
            await asyncio.sleep(0.01)
        assert (await h.job(job["id"]))["status"] == "running"
        gate.reached.clear()
        await h.services.queue.enqueue(job["id"])  # what recovery does on the next start
        await asyncio.wait_for(gate.reached.wait(), 10)
        gate.release.set()
        done = await h.wait_for(job["id"])
        stored = await h.events(job["id"])
    assert done["status"] == "completed" and gate.visits == 2
    created = [e["data"] for e in stored if e["type"] == "artifact.created"]
    assert len(created) == 1, "the re-run node's artifact was stored once"
    assert [e["data"]["attempt"] for e in stored if e["type"] == "job.started"] == [1, 2]


class FlakyStore(SQLStore):
    """A store whose next `failures` checkpoints fail as if the database went away."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.failures = 0
        self.failed = 0

    async def update_job(self, job_id: str, update_: Any, events: Any = (), **kw: Any) -> Any:
        if self.failures and update_.checkpoint is not None and not update_.start_attempt:
            self.failures -= 1
            self.failed += 1
            raise StoreUnavailable("database error: OperationalError")
        return await super().update_job(job_id, update_, events, **kw)

    async def append_events(self, job_id: str, events: Any, **kw: Any) -> Any:
        if self.failures and kw.get("update_") is not None:  # a node's checkpoint
            self.failures -= 1
            self.failed += 1
            raise StoreUnavailable("database error: OperationalError")
        return await super().append_events(job_id, events, **kw)


async def test_a_database_outage_pauses_a_job_and_never_fails_it(tmp_path: Path) -> None:
    gate = Gate()
    gate.release.set()
    store = FlakyStore(f"sqlite+aiosqlite:///{tmp_path / 'flaky.db'}")
    store.failures = 2  # the first two checkpoints fail
    async with running_app(tmp_path, flows=held_flow(gate), store=store) as h:
        job = await h.create("held", {})
        done = await h.wait_for(job["id"], timeout=30)
        stored = await h.events(job["id"])
    assert store.failed == 2
    assert done["status"] == "completed", done["error"]
    assert "job.failed" not in [e["type"] for e in stored]
    assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))


async def test_while_writes_fail_jobs_wait_health_says_degraded_and_nothing_is_stranded(
    tmp_path: Path,
) -> None:
    gate = Gate()
    async with running_app(tmp_path, flows=held_flow(gate), max_concurrent_jobs=1) as h:
        first = await h.create("held", {})
        await asyncio.wait_for(gate.reached.wait(), 10)
        second = await h.create("held", {})  # waits for the one slot, `pending`
        rename_table(h.services.store, "events", "events_away")  # writes fail from now on
        gate.release.set()  # the first job's checkpoint fails; then the second's claim
        while not h.services.store.failing:
            await asyncio.sleep(0.01)
        health = await h.client.get("/api/health")
        assert health.status_code == 503
        assert (await health.get_json())["status"] == "degraded"
        rename_table(h.services.store, "events_away", "events")  # the database is back
        done = [await h.wait_for(job["id"], timeout=30) for job in (first, second)]
        stored = [await h.events(job["id"]) for job in (first, second)]
        assert (await h.client.get("/api/health")).status_code == 200
    assert [job["status"] for job in done] == ["completed", "completed"]
    for events in stored:
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert "job.failed" not in [e["type"] for e in events]
