"""The local queue: never two tasks for one job, and no enqueue lost while one finishes."""

from __future__ import annotations

import asyncio

from backend.runtime.queues.local import LocalQueue


async def test_an_enqueue_during_a_run_runs_again_after_it_never_alongside() -> None:
    running, runs = 0, []
    release = asyncio.Event()

    async def run(job_id: str) -> None:
        nonlocal running
        running += 1
        assert running == 1, "two tasks ran one job at once"
        runs.append(job_id)
        await release.wait()
        running -= 1

    queue = LocalQueue(run, max_concurrent=4)
    queue.put("job_1")
    await asyncio.sleep(0)
    queue.put("job_1")  # e.g. a decision arriving while the gate is parking the job
    queue.put("job_1")
    release.set()
    while queue.active() or len(runs) < 2:
        await asyncio.sleep(0.01)
    assert runs == ["job_1", "job_1"]
    await queue.close()


async def test_the_concurrency_limit_holds_jobs_back() -> None:
    started: list[str] = []
    release = asyncio.Event()

    async def run(job_id: str) -> None:
        started.append(job_id)
        await release.wait()

    queue = LocalQueue(run, max_concurrent=2)
    for i in range(5):
        queue.put(f"job_{i}")
    await asyncio.sleep(0.05)
    assert len(started) == 2
    release.set()
    while len(started) < 5:
        await asyncio.sleep(0.01)
    await queue.close()


async def test_jobs_are_not_capped_by_default() -> None:
    """A job mostly waits on its model, whose calls have their own limit: without
    GENFLOW_MAX_CONCURRENT_JOBS every queued job starts at once."""
    started: asyncio.Queue[str] = asyncio.Queue()
    release = asyncio.Event()

    async def run(job_id: str) -> None:
        started.put_nowait(job_id)
        await release.wait()

    queue = LocalQueue(run)
    for i in range(500):
        queue.put(f"job_{i}")
    assert queue.running() == 500
    assert [await started.get() for _ in range(500)] == [f"job_{i}" for i in range(500)]
    release.set()
    await queue.close()


async def test_cancel_stops_the_task_and_forgets_a_pending_rerun() -> None:
    cancelled = asyncio.Event()

    async def run(job_id: str) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    queue = LocalQueue(run, max_concurrent=1)
    queue.put("job_1")
    await asyncio.sleep(0)
    queue.put("job_1")
    assert queue.cancel("job_1")
    await asyncio.wait_for(cancelled.wait(), 2)
    await asyncio.sleep(0.01)
    assert queue.active() == 0
    await queue.close()


async def test_jobs_waiting_for_a_slot_hold_no_task() -> None:
    started: list[str] = []
    release = asyncio.Event()

    async def run(job_id: str) -> None:
        started.append(job_id)
        await release.wait()

    queue = LocalQueue(run, max_concurrent=2)
    for i in range(100):
        queue.put(f"job_{i}")
    await asyncio.sleep(0.05)
    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("job:")]
    assert len(tasks) == 2, "only running jobs have a task"
    assert queue.active() == 100
    assert queue.cancel("job_50"), "a job waiting for a slot can be cancelled"
    release.set()
    while queue.active():
        await asyncio.sleep(0.01)
    assert started == [f"job_{i}" for i in range(100) if i != 50], "first come, first served"
    await queue.close()
