"""Follow one job's events: replay what is stored after `after`, then go live.

Subscribes BEFORE replaying, so nothing published in between is missed; skips what was
already sent and fills any gap in `seq` from the store, so there is no gap and no
duplicate. Ends after the terminal event, or when the server shuts down (clients
reconnect with Last-Event-ID). Yields the events in batches - whatever is ready at once
(a replayed page, the events of one transaction) goes out in one write - and an empty
batch as a heartbeat tick.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from backend.events import Event
from backend.runtime.bus import CLOSED, LAGGED, EventBus
from backend.store.base import Store

PAGE = 500


async def follow(
    store: Store, bus: EventBus, job_id: str, after: int, heartbeat: float
) -> AsyncIterator[list[Event]]:
    subscription = bus.subscribe(job_id)
    last = after
    try:
        while True:  # replay, then catch up whenever the live feed has a hole
            page = await store.events_after(job_id, last, PAGE)
            batch = _upto_terminal(page)
            if batch:
                yield batch
                last = batch[-1].seq or last
                if batch[-1].type.terminal:
                    return
            if len(page) == PAGE:
                continue
            if not page:  # nothing after `last`: the job may be over already
                job = await store.get_job(job_id)
                if job is None or (job.status.terminal and last >= job.last_seq):
                    return
            # (A page without the terminal event was read after subscribing: the job was
            # still going, so whatever comes next reaches the subscription.)
            while True:  # live
                items = await subscription.get_ready(heartbeat)
                if not items:
                    yield []
                    continue
                batch, last, state = _live_batch(items, last)
                if batch:
                    yield batch
                if state is _END:
                    return
                if state is _REFILL:
                    break
    finally:
        subscription.close()


_END, _REFILL, _GO_ON = object(), object(), object()


def _upto_terminal(events: list[Event]) -> list[Event]:
    for index, event in enumerate(events):
        if event.type.terminal:
            return events[: index + 1]
    return events


def _live_batch(items: list[object], last: int) -> tuple[list[Event], int, object]:
    """The events of `items` to send now, the new `last`, and what to do next."""
    batch: list[Event] = []
    for item in items:
        if item is CLOSED:
            return batch, last, _END
        if item is LAGGED:
            return batch, last, _REFILL
        assert isinstance(item, Event)
        if item.seq is None:
            batch.append(item)  # live-only (llm.delta)
            continue
        if item.seq <= last:
            if item.type.terminal:
                return batch, last, _END  # the client asked to start past the end
            continue
        if item.seq > last + 1:
            return batch, last, _REFILL  # a hole: fill it from the store
        batch.append(item)
        last = item.seq
        if item.type.terminal:
            return batch, last, _END
    return batch, last, _GO_ON
