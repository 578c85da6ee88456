"""PostgreSQL only: which jobs the periodic re-queue queues again (`not_waiting`).

A job the queue already holds a run for - waiting, or fetched moments ago by a worker
about to claim it - gets no second entry; one a worker fetched long ago (and never
claimed, or lost the lease of) does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest

from backend.runtime.queues.procrastinate_queue import ProcrastinateQueue, make_app
from backend.store.migrate import conninfo

GRACE = 15.0  # the lease, as the worker passes it


@pytest.fixture
async def queue(postgres_url: str) -> AsyncIterator[ProcrastinateQueue]:
    queue = ProcrastinateQueue(make_app(postgres_url), postgres_url)
    await queue.start()
    yield queue
    await queue.close()


async def fetched_by_a_worker(queue: ProcrastinateQueue, job_id: str) -> None:
    """What a worker does before its runner claims the job: take the queue's entry."""
    await queue.enqueue(job_id)
    manager = queue.app.job_manager
    entry = await manager.fetch_job(queues=None, worker_id=await manager.register_worker())
    assert entry is not None and entry.queueing_lock == job_id


def started_long_ago(postgres_url: str, job_id: str) -> None:
    with psycopg.connect(conninfo(postgres_url), autocommit=True) as conn:
        conn.execute(
            "UPDATE procrastinate_events SET at = now() - interval '1 hour' WHERE type = "
            "'started' AND job_id = (SELECT id FROM procrastinate_jobs WHERE queueing_lock = %s)",
            (job_id,),
        )


async def test_a_job_the_queue_holds_a_run_for_is_not_queued_again(
    queue: ProcrastinateQueue, postgres_url: str
) -> None:
    await fetched_by_a_worker(queue, "job_fetched")
    await fetched_by_a_worker(queue, "job_fetched_long_ago")
    started_long_ago(postgres_url, "job_fetched_long_ago")
    await queue.enqueue("job_waiting")
    unowned = ["job_waiting", "job_fetched", "job_fetched_long_ago", "job_not_queued"]
    assert await queue.not_waiting(unowned, fetched_within=GRACE) == [
        "job_fetched_long_ago",
        "job_not_queued",
    ]
    assert await queue.not_waiting([], fetched_within=GRACE) == []
