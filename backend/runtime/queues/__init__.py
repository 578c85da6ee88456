"""Job queues: what runs a job, and where. `local` (tasks in the server process) or
`procrastinate` (PostgreSQL-backed, run by `genflow worker` processes)."""

from backend.runtime.queues.base import JobQueue

__all__ = ["JobQueue"]
