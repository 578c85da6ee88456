"""The `local` job queue: each job runs as an asyncio task in this process.

Jobs are not capped by default (`max_concurrent` 0): a running job mostly waits for its
model, whose calls have their own limit per provider (flows/providers/call_limit.py). With
a cap, at most `max_concurrent` jobs run at once; the rest wait for a slot (as `pending`)
as a job id in a FIFO, not as a task: ten thousand queued jobs cost ten thousand ids, not
ten thousand suspended coroutines. A job enqueued while its previous task is still winding
down (e.g. a decision arriving just as the gate parks) is run again right after, never
twice at the same time. When the runner itself breaks (the database is unreachable, the
disk is full), the job is tried again with a growing delay for as long as that lasts:
an outage pauses jobs, it never strands them.

This queue is the whole of one process's work, so its runs may take over a job whose
lease a previous (crashed) run of the same server still holds.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # then every 30 s while it keeps failing


class LocalQueue:
    name = "local"

    def __init__(self, run: Callable[[str], Awaitable[None]], *, max_concurrent: int = 0) -> None:
        self._run = run
        self._max = max_concurrent if max_concurrent > 0 else math.inf  # 0: no cap
        self._waiting: dict[str, None] = {}  # job ids waiting for a slot, in order
        self._tasks: dict[str, asyncio.Task[None]] = {}  # running jobs
        self._again: set[str] = set()
        self._failures: dict[str, int] = {}
        self._retries: dict[str, asyncio.TimerHandle] = {}
        self._closed = False

    async def start(self) -> None:
        return None

    async def enqueue(self, job_id: str) -> None:
        self.put(job_id)

    def put(self, job_id: str) -> None:
        """`enqueue` without the await, for callbacks."""
        if self._closed:
            return
        self._retries.pop(job_id, None)
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
        except Exception as exc:
            failures = self._failures[job_id] = self._failures.get(job_id, 0) + 1
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]
            log.warning("job %s: runner error (%s); trying again in %.1f s", job_id, exc, delay)
            self._retries[job_id] = asyncio.get_running_loop().call_later(delay, self.put, job_id)

    def _finished(self, job_id: str) -> None:
        self._tasks.pop(job_id, None)
        if job_id in self._again:
            self._again.discard(job_id)
            self._waiting[job_id] = None
        self._start_waiting()

    def cancel(self, job_id: str) -> bool:
        """True when a task was stopped or a queued run dropped."""
        self._again.discard(job_id)
        self._failures.pop(job_id, None)
        retry = self._retries.pop(job_id, None)
        if retry is not None:
            retry.cancel()
        if job_id in self._waiting:
            del self._waiting[job_id]  # it had not started: it never will
            return True
        task = self._tasks.get(job_id)
        if task is None or task.done():
            return retry is not None
        task.cancel()
        return True

    def active(self) -> int:
        """Jobs running or waiting for a slot."""
        return len(self._waiting) + sum(1 for task in self._tasks.values() if not task.done())

    def running(self) -> int:
        return sum(1 for task in self._tasks.values() if not task.done())

    def status(self) -> dict[str, Any]:
        return {"backend": self.name, "active_jobs": self.active(), "retrying": len(self._retries)}

    async def close(self) -> None:
        self._closed = True
        self._waiting.clear()
        for retry in self._retries.values():
            retry.cancel()
        self._retries.clear()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
