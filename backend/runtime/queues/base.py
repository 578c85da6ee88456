"""The queue interface `JobService` and the app depend on.

A queue only has to get a job id to *a* runner eventually; it never decides who owns a
job. Ownership is the store's: a runner claims the job with a lease and a fence, so a
queue that delivers a job twice (or to two workers) costs a wasted claim, not a double
run. That is what lets the procrastinate queue be at-least-once and the periodic
re-queue blunt.
"""

from __future__ import annotations

from typing import Any, Protocol


class JobQueue(Protocol):
    name: str

    async def start(self) -> None:
        """Open connections; called once the app starts serving."""

    async def enqueue(self, job_id: str) -> None:
        """Ask for the job to be run (again). Never raises for an infrastructure
        failure: a job that could not be queued is found by recovery instead."""

    def cancel(self, job_id: str) -> None:
        """Stop the job's task if it runs here (other processes learn from the bus)."""

    def status(self) -> dict[str, Any]:
        """What /api/health shows about the queue."""

    async def close(self) -> None: ...
