"""Live fan-out of job events to followers (SSE, WebSocket, the jobs' own watchers).

The bus is only a doorbell: the database is the source of truth. A follower whose queue
overflows, or whose bus lost its connection, is told it `LAGGED` and catches up from the
store, so a slow client never slows the others and never grows memory without bound.
`LocalBus` fans out within one process (the embedded default); `RedisBus`
(`redis_bus.py`) wraps one and adds Redis pub/sub between processes.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from backend.events import Event
from backend.runtime.wakeups import WakeUps

LAGGED = object()  # put on a follower's queue when events may have been missed
CLOSED = object()  # the server is shutting down: end the stream, the client reconnects


class Subscription:
    """One follower's pending events, LAGGED and CLOSED, and the one task waiting for them.

    Cheaper per event than an `asyncio.Queue` under `asyncio.timeout`, which a fan-out to a
    thousand followers pays a thousand times: a list and one future, woken through the
    bus's `WakeUps`, and a wait timer that is re-armed only when it fires early (the wait's
    end moves later after every write, and the timer is then left where it is)."""

    def __init__(self, bus: LocalBus, job_id: str, maxsize: int) -> None:
        self.job_id = job_id
        self._bus = bus
        self._maxsize = maxsize
        self._items: list[object] = []
        self._closing = False
        self._waiter: asyncio.Future[None] | None = None  # set while get_ready waits
        self._until = 0.0  # loop time the current wait ends at
        self._timer: asyncio.TimerHandle | None = None

    def offer(self, event: object) -> None:
        """Queue `event` without waiting; on overflow drop everything for one LAGGED.
        After CLOSED nothing more is queued, so an overflow can never drop CLOSED."""
        if self._closing:
            return
        if event is CLOSED:
            self._closing = True
        if len(self._items) < self._maxsize:
            self._items.append(event)
        else:
            self._items = [CLOSED if event is CLOSED else LAGGED]
        waiter = self._waiter
        if waiter is not None:  # rung once: later offers ride along
            self._waiter = None
            self._bus.wakeups.wake(waiter)

    @property
    def pending(self) -> int:
        """How many items are queued."""
        return len(self._items)

    @property
    def waiting(self) -> bool:
        """Whether a task waits for the next item (and has not been rung yet)."""
        return self._waiter is not None

    def take(self) -> list[object]:
        """Everything queued, without waiting."""
        items, self._items = self._items, []
        return items

    async def get(self, wait: float) -> object | None:
        """The next item, or None when `wait` seconds pass without one."""
        if not self._items:
            await self._wait(wait)
        return self._items.pop(0) if self._items else None

    async def get_ready(self, wait: float) -> list[object]:
        """Everything queued (events, LAGGED, CLOSED), waiting up to `wait` seconds for
        the first; an empty list when nothing came."""
        if not self._items:
            await self._wait(wait)
        return self.take()

    async def _wait(self, wait: float) -> None:
        """Until something is offered or `wait` seconds pass."""
        if wait <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        self._until = loop.time() + wait
        if self._timer is None or self._timer.when() > self._until:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(self._until, self._on_timer)
        waiter = self._waiter = loop.create_future()
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def _on_timer(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None:
            return  # nobody waits now; the next wait arms a timer of its own
        loop = waiter.get_loop()
        if loop.time() < self._until:  # the wait began after this timer was set
            self._timer = loop.call_at(self._until, self._on_timer)
            return
        self._waiter = None
        if not waiter.done():
            waiter.set_result(None)

    async def after_fan_out(self) -> None:
        """Until the followers already rung have been woken (see `WakeUps.after_queued`)."""
        await self._bus.wakeups.after_queued()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._bus.unsubscribe(self)


class EventBus(Protocol):
    """What the runner, the job service and followers need from a bus."""

    def publish(self, events: Iterable[Event]) -> None:
        """Hand events to every follower of their jobs. Never blocks, never raises."""
        ...

    def subscribe(self, job_id: str) -> Subscription:
        """Start following a job; `Subscription.close()` stops."""
        ...

    def close(self) -> None:
        """Shutting down: offer CLOSED to every follower, now and later ones."""
        ...

    def follower_count(self, job_id: str | None = None) -> int: ...

    async def start(self) -> None:
        """Connect whatever the bus needs (inside the serving event loop)."""
        ...

    async def aclose(self) -> None:
        """Release connections and tasks (after `close()`)."""
        ...

    def status(self) -> dict[str, Any]:
        """For /api/health: {"backend": ..., "connected": bool}."""
        ...


# Called with (job_id, True) when a job gets its first follower, (job_id, False) when its
# last one leaves: how RedisBus knows which channels to subscribe to.
FollowersChanged = Callable[[str, bool], None]


class LocalBus:
    """In-process fan-out (the embedded default)."""

    def __init__(
        self,
        queue_size: int = 1000,
        *,
        on_followers: FollowersChanged | None = None,
        wakeups: WakeUps | None = None,
    ) -> None:
        self.queue_size = queue_size
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._closed = False
        self._on_followers = on_followers
        self.wakeups = wakeups if wakeups is not None else WakeUps()

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            for subscription in tuple(self._subscribers.get(event.job_id, ())):
                subscription.offer(event)

    def subscribe(self, job_id: str) -> Subscription:
        subscription = Subscription(self, job_id, self.queue_size)
        followers = self._subscribers[job_id]
        followers.add(subscription)
        if len(followers) == 1 and self._on_followers is not None:
            self._on_followers(job_id, True)
        if self._closed:
            subscription.offer(CLOSED)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        followers = self._subscribers.get(subscription.job_id)
        if followers is None or subscription not in followers:
            return
        followers.discard(subscription)
        if not followers:
            del self._subscribers[subscription.job_id]
            if self._on_followers is not None:
                self._on_followers(subscription.job_id, False)

    def close(self) -> None:
        """End every follower's stream (on shutdown, so it does not wait for them)."""
        self._closed = True
        for followers in self._subscribers.values():
            for subscription in followers:
                subscription.offer(CLOSED)

    def lag(self, job_ids: Iterable[str] | None = None) -> None:
        """Tell the followers of these jobs (all jobs by default) to refill from the store."""
        chosen = self._subscribers.keys() if job_ids is None else job_ids
        for job_id in tuple(chosen):
            for subscription in tuple(self._subscribers.get(job_id, ())):
                subscription.offer(LAGGED)

    def job_ids(self) -> set[str]:
        """The jobs that have at least one follower here."""
        return set(self._subscribers)

    def follower_count(self, job_id: str | None = None) -> int:
        if job_id is not None:
            return len(self._subscribers.get(job_id, ()))
        return sum(len(s) for s in self._subscribers.values())

    async def start(self) -> None:
        """Nothing to connect."""

    async def aclose(self) -> None:
        """Nothing to release."""

    def status(self) -> dict[str, Any]:
        return {"backend": "local", "connected": True}
