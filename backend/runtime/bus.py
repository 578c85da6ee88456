"""Live fan-out of job events to followers (SSE, WebSocket, the jobs' own watchers).

The bus is only a doorbell: the database is the source of truth. A follower whose queue
overflows is told it `LAGGED` and catches up from the store, so a slow client never
slows the others and never grows memory without bound.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from backend.events import Event

LAGGED = object()  # put on a follower's queue when events had to be dropped
CLOSED = object()  # the server is shutting down: end the stream, the client reconnects


class Subscription:
    def __init__(self, bus: LocalBus, job_id: str, maxsize: int) -> None:
        self.job_id = job_id
        self._bus = bus
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=maxsize)

    def offer(self, event: object) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(CLOSED if event is CLOSED else LAGGED)

    async def get(self, wait: float) -> object | None:
        """The next event, LAGGED, or None when `wait` seconds pass without one."""
        try:
            async with asyncio.timeout(wait):
                return await self.queue.get()
        except TimeoutError:
            return None

    async def get_ready(self, wait: float) -> list[object]:
        """Everything queued (events, LAGGED, CLOSED), waiting up to `wait` seconds for
        the first; an empty list when nothing came."""
        items = []
        if self.queue.empty():
            first = await self.get(wait)
            if first is None:
                return []
            items.append(first)
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus(Protocol):
    def publish(self, events: Iterable[Event]) -> None: ...

    def subscribe(self, job_id: str) -> Subscription: ...

    def close(self) -> None: ...


class LocalBus:
    """In-process fan-out (the embedded default)."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._closed = False

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            for subscription in tuple(self._subscribers.get(event.job_id, ())):
                subscription.offer(event)

    def subscribe(self, job_id: str) -> Subscription:
        subscription = Subscription(self, job_id, self.queue_size)
        self._subscribers[job_id].add(subscription)
        if self._closed:
            subscription.offer(CLOSED)
        return subscription

    def close(self) -> None:
        """End every follower's stream (on shutdown, so it does not wait for them)."""
        self._closed = True
        for followers in self._subscribers.values():
            for subscription in followers:
                subscription.offer(CLOSED)

    def unsubscribe(self, subscription: Subscription) -> None:
        followers = self._subscribers.get(subscription.job_id)
        if followers is not None:
            followers.discard(subscription)
            if not followers:
                del self._subscribers[subscription.job_id]

    def follower_count(self, job_id: str | None = None) -> int:
        if job_id is not None:
            return len(self._subscribers.get(job_id, ()))
        return sum(len(s) for s in self._subscribers.values())
