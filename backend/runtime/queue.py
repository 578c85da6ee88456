"""The `local` job queue: each job runs as an asyncio task in this process.

At most `max_concurrent` jobs run at once; the rest wait for a slot (as `pending`) as a
job id in a FIFO, not as a task: ten thousand queued jobs cost ten thousand ids, not ten
thousand suspended coroutines. A job enqueued while its previous task is still winding
down (e.g. a decision arriving just as the gate parks) is run again right after, never
twice at the same time. When the runner itself breaks (say the database was briefly
unreachable), the job is retried a few times with a delay rather than left `running`
until the next restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
RUNNER_RETRIES = 3
RUNNER_RETRY_DELAY = 5.0


class LocalQueue:
    def __init__(self, run: Callable[[str], Awaitable[None]], *, max_concurrent: int) -> None:
        self._run = run
        self._max = max(1, max_concurrent)
        self._waiting: dict[str, None] = {}  # job ids waiting for a slot, in order
        self._tasks: dict[str, asyncio.Task[None]] = {}  # running jobs
        self._again: set[str] = set()
        self._failures: dict[str, int] = {}
        self._closed = False

    def enqueue(self, job_id: str) -> None:
        if self._closed:
            return
        if job_id in self._tasks:
            self._again.add(job_id)
        else:
            self._waiting[job_id] = None
            self._start_waiting()

    def _start_waiting(self) -> None:
        while self._waiting and len(self._tasks) < self._max and not self._closed:
            job_id = next(iter(self._waiting))
            del self._waiting[job_id]
            task = asyncio.create_task(self._execute(job_id), name=f"job:{job_id}")
            self._tasks[job_id] = task
            task.add_done_callback(lambda _t, job_id=job_id: self._finished(job_id))

    async def _execute(self, job_id: str) -> None:
        try:
            await self._run(job_id)
            self._failures.pop(job_id, None)
        except Exception:
            failures = self._failures[job_id] = self._failures.get(job_id, 0) + 1
            if failures > RUNNER_RETRIES:
                log.exception("job %s: runner error; it resumes on the next start", job_id)
                self._failures.pop(job_id, None)
                return
            log.exception("job %s: runner error; retrying in %.0f s", job_id, RUNNER_RETRY_DELAY)
            asyncio.get_running_loop().call_later(RUNNER_RETRY_DELAY, self.enqueue, job_id)

    def _finished(self, job_id: str) -> None:
        self._tasks.pop(job_id, None)
        if job_id in self._again:
            self._again.discard(job_id)
            self._waiting[job_id] = None
        self._start_waiting()

    def cancel(self, job_id: str) -> bool:
        self._again.discard(job_id)
        if job_id in self._waiting:
            del self._waiting[job_id]
            return True  # it had not started: it never will
        task = self._tasks.get(job_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def active(self) -> int:
        """Jobs running or waiting for a slot."""
        return len(self._waiting) + sum(1 for task in self._tasks.values() if not task.done())

    def running(self) -> int:
        return sum(1 for task in self._tasks.values() if not task.done())

    async def close(self) -> None:
        self._closed = True
        self._waiting.clear()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
