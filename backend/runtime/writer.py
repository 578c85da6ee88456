"""Ordered durable appends of a running job's events (progress, artifacts).

Nodes report from the event loop or from worker threads; the writer funnels both into
one queue drained by one task, so events keep their order and each is stored (with its
seq) before it is published. The runner `flush`es before each checkpoint so that a
node's events always come before its `node.finished`.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from backend.domain import JobStatus
from backend.events import EventType, NewEvent
from backend.runtime.bus import EventBus
from backend.store.base import JobUpdate, Store

log = logging.getLogger(__name__)


class EventWriter:
    def __init__(
        self, store: Store, bus: EventBus, job_id: str, *, last_seq: int, max_events: int
    ) -> None:
        self.store, self.bus, self.job_id = store, bus, job_id
        self.progress: int | None = None
        self._count = last_seq
        self._max_events = max_events
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._queue: asyncio.Queue[NewEvent] = asyncio.Queue()
        self._task = asyncio.create_task(self._drain(), name=f"events:{job_id}")

    def append(self, event: NewEvent) -> None:
        """Queue a durable event; safe to call from any thread."""
        if threading.get_ident() == self._loop_thread:
            self._queue.put_nowait(event)
        else:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def flush(self) -> None:
        await asyncio.sleep(0)  # let call_soon_threadsafe callbacks land first
        await self._queue.join()

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def _drain(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._store(event)
            except Exception:  # a lost progress line must not kill the job
                log.exception("could not store %s for job %s", event.type, self.job_id)
            finally:
                self._queue.task_done()

    async def _store(self, event: NewEvent) -> None:
        if event.type is EventType.NODE_PROGRESS and self._count >= self._max_events:
            return  # over the per-job limit: progress lines are dropped, state events never
        update = JobUpdate(progress=self.progress) if self.progress is not None else JobUpdate()
        saved = await self.store.update_job(
            self.job_id, update, [event], expect={JobStatus.RUNNING}
        )
        if saved is not None:
            self._count = saved[0].last_seq
            self.bus.publish(saved[1])
