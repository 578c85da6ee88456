"""`genflow worker`: runs jobs from the procrastinate queue (GENFLOW_QUEUE=procrastinate).

A worker is the same runner as the embedded server's, fed by procrastinate instead of
an in-process queue. It also runs the periodic re-queue of jobs whose lease expired, and
the periodic sweep of review reminders and deadlines.
If procrastinate's worker stops on its own (PostgreSQL went away under its listener), it
is started again once the database answers: an outage pauses a worker, it does not end
it. SIGTERM stops it: running jobs hand their lease back and are queued again, so
another worker resumes them at once from their last checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from procrastinate import worker as procrastinate_worker

from backend.assembly import build_services
from backend.errors import StoreUnavailable
from backend.runtime.queues.procrastinate_queue import QUEUE, ProcrastinateQueue, register_tasks
from backend.services import Services
from backend.settings import Settings

log = logging.getLogger(__name__)
RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0)  # then every 5 s while the database stays away


async def run_worker(
    settings: Settings,
    *,
    concurrency: int,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run jobs from the queue until `stop`; `on_ready` once the worker can take them."""
    if settings.queue != "procrastinate":
        raise ValueError(
            "genflow worker needs GENFLOW_QUEUE=procrastinate (see docs/operations.md)"
        )
    parts = build_services(settings)
    queue = parts.queue
    assert isinstance(queue, ProcrastinateQueue)
    parts.runner.requeue = queue.enqueue
    _register(parts, queue)
    stop = stop or _stop_on_signals()
    await _until_ready(parts, queue, stop)
    if on_ready is not None:
        on_ready()
    try:
        await _supervise(parts, queue, concurrency, stop)
    finally:
        await queue.close()
        await parts.jobs.limiter.aclose()
        await parts.bus.aclose()
        await parts.store.close()


def _register(parts: Services, queue: ProcrastinateQueue) -> None:
    async def run(job_id: str) -> None:
        try:
            await parts.runner.run(job_id)
        except StoreUnavailable as exc:  # its lease runs out and it is queued again
            log.warning("job %s paused: the database failed (%s)", job_id, exc)

    async def requeue_unowned() -> int:
        ids = await parts.store.unowned_jobs(grace_seconds=parts.settings.lease_seconds)
        ids = await queue.not_waiting(ids, fetched_within=parts.settings.lease_seconds)
        for job_id in ids:
            await queue.enqueue(job_id)
        return len(ids)

    async def sweep_reviews() -> None:
        reminded, timed_out = await parts.deadlines.sweep()
        if reminded or timed_out:
            log.info("review deadlines: %d reminder(s), %d timeout(s)", reminded, timed_out)

    register_tasks(
        queue.app,
        run=run,
        requeue_unowned=requeue_unowned,
        every_seconds=parts.settings.requeue_seconds,
        sweep_reviews=sweep_reviews,
        review_sweep_seconds=parts.settings.review_sweep_seconds,
    )


async def _until_ready(parts: Services, queue: ProcrastinateQueue, stop: asyncio.Event) -> None:
    """Migrate and connect, waiting for the database if it is not up yet."""
    for attempt in range(10**9):
        try:
            await parts.store.initialize()
            await parts.bus.start()
            await queue.start()
            return
        except Exception as exc:
            delay = RESTART_DELAYS[min(attempt, len(RESTART_DELAYS) - 1)]
            log.warning("worker cannot start yet (%s); trying again in %.1f s", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return


async def _supervise(
    parts: Services, queue: ProcrastinateQueue, concurrency: int, stop: asyncio.Event
) -> None:
    failures = 0
    while not stop.is_set():
        worker = procrastinate_worker.Worker(
            app=queue.app,
            queues=[QUEUE],
            name=parts.runner.worker_id,
            concurrency=concurrency,
            install_signal_handlers=False,
            shutdown_graceful_timeout=0,  # running jobs hand back at once (see Runner.run)
            fetch_job_polling_interval=1.0,
            delete_jobs="successful",  # GenFlow's own tables keep the history
        )
        running = asyncio.create_task(worker.run(), name="procrastinate-worker")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            worker.stop()
            with contextlib.suppress(Exception):
                await running
            return
        stopping.cancel()
        error = running.exception() if not running.cancelled() else None
        delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
        failures += 1
        log.warning("the queue worker stopped (%s); starting it again in %.1f s", error, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
