"""The `procrastinate` job queue: jobs run in `genflow worker` processes, via PostgreSQL.

API replicas only defer ("run job X" rows in procrastinate's table, one per job at a time
thanks to a queueing lock); workers fetch them, claim the GenFlow job with a lease, and
run it. procrastinate is at-least-once and that is all we need from it: the lease and
fence in the store make sure one runner, and only one, writes for a job. A periodic task
(deferred once per period however many workers run) queues again every job whose lease
expired - a worker killed mid-node, a deferral lost to an outage - so nothing stays
`running` or `pending` without something that will run it. Another sends due review
reminders and applies passed review deadlines (exactly once: the store decides).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager

from backend.store.migrate import conninfo
from backend.store.pre_ping import CheckedPool

log = logging.getLogger(__name__)
QUEUE = "genflow"
RUN_JOB = "genflow.run_job"
REQUEUE = "genflow.requeue_unowned"
SWEEP_REVIEWS = "genflow.sweep_review_deadlines"
SCHEMA_LOCK = 0x67656E666C6F77  # pg advisory lock key: one process installs the schema


def make_app(database_url: str, *, pool_size: int = 5) -> procrastinate.App:
    """procrastinate on its psycopg pool, with two round trips fewer per query: every
    query of procrastinate's is one statement (a function of its schema), so its
    connections autocommit instead of wrapping each in BEGIN and COMMIT, and a connection
    is checked before use only when it may be dead (`CheckedPool`), not by an empty query
    on every checkout."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url),
        min_size=1,
        max_size=pool_size,
        configure=_autocommit,  # also run on its LISTEN connection, autocommit already
        pool_factory=CheckedPool,
    )
    return procrastinate.App(connector=connector)


async def _autocommit(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


async def install_schema(database_url: str) -> bool:
    """Create procrastinate's tables and functions unless they exist; True if created.

    Replicas and workers starting together all call this: an advisory lock makes one of
    them install the schema while the others wait and then find it there."""
    async with await psycopg.AsyncConnection.connect(
        conninfo(database_url), autocommit=True
    ) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            row = await (await conn.execute("SELECT to_regclass('procrastinate_jobs')")).fetchone()
            if row and row[0] is not None:
                return False
            await conn.execute(SchemaManager.get_schema())
            return True
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def register_tasks(
    app: procrastinate.App,
    *,
    run: Callable[[str], Awaitable[None]],
    requeue_unowned: Callable[[], Awaitable[int]],
    every_seconds: int,
    sweep_reviews: Callable[[], Awaitable[object]],
    review_sweep_seconds: int,
) -> None:
    """The worker's side: the task that runs a job, the periodic re-queue, and the
    periodic sweep of review reminders and deadlines (backend/reviews/deadlines.py)."""

    @app.task(name=RUN_JOB, queue=QUEUE)
    async def run_job(job_id: str) -> None:
        await run(job_id)

    @app.periodic(cron=f"* * * * * */{every_seconds}", periodic_id="requeue")
    @app.task(name=REQUEUE, queue=QUEUE, queueing_lock=REQUEUE)
    async def requeue(timestamp: int) -> None:
        count = await requeue_unowned()
        if count:
            log.info("queued %d job(s) again whose runner is gone", count)

    @app.periodic(cron=f"* * * * * */{review_sweep_seconds}", periodic_id="review_deadlines")
    @app.task(name=SWEEP_REVIEWS, queue=QUEUE, queueing_lock=SWEEP_REVIEWS)
    async def sweep_review_deadlines(timestamp: int) -> None:
        await sweep_reviews()


class ProcrastinateQueue:
    name = "procrastinate"

    def __init__(self, app: procrastinate.App, database_url: str) -> None:
        self.app, self.database_url = app, database_url
        self._open = False

    async def start(self) -> None:
        await install_schema(self.database_url)
        await self.app.open_async()
        self._open = True

    async def enqueue(self, job_id: str) -> None:
        deferrer = self.app.configure_task(RUN_JOB, queue=QUEUE, queueing_lock=job_id)
        try:
            await deferrer.defer_async(job_id=job_id)
        except AlreadyEnqueued:
            pass  # one is waiting already; it will see the job's latest state
        except Exception as exc:  # the periodic re-queue finds the job once PostgreSQL is back
            log.warning("job %s: could not be queued now (%s); it will be re-queued", job_id, exc)

    async def not_waiting(self, job_ids: list[str], *, fetched_within: float) -> list[str]:
        """The jobs the queue holds no run for: not waiting (`todo`: a backlog of pending
        jobs needs no second entry), and not fetched by a worker in the last
        `fetched_within` seconds (`doing` since a recent `started` event: its runner is
        about to claim the job - under load a claim can wait a while for a connection,
        and a second entry would run the job twice, the second claim refused). A job a
        worker fetched longer ago and still did not claim, or claimed and lost the lease
        of, is queued again."""
        if not job_ids:
            return []
        rows = await self.app.connector.execute_query_all_async(
            "SELECT queueing_lock FROM procrastinate_jobs AS job "
            "WHERE queueing_lock = ANY(%(ids)s) AND (status = 'todo' OR (status = 'doing' "
            "AND EXISTS (SELECT 1 FROM procrastinate_events AS event WHERE event.job_id = "
            "job.id AND event.type = 'started' "
            "AND event.at > now() - make_interval(secs => %(within)s))))",
            ids=job_ids,
            within=fetched_within,
        )
        held = {row["queueing_lock"] for row in rows}
        return [job_id for job_id in job_ids if job_id not in held]

    def cancel(self, job_id: str) -> None:
        """Nothing to do here: the worker running the job sees `job.cancelled` on the bus
        (or its lease renewal fails) and stops."""

    def status(self) -> dict[str, Any]:
        return {"backend": self.name}

    async def close(self) -> None:
        if self._open:
            self._open = False
            await self.app.close_async()
