"""Follow one job's events: replay what is stored after `after`, then go live.

Subscribes BEFORE replaying, so nothing published in between is missed; skips what was
already sent and fills any gap in `seq` from the store, so there is no gap and no
duplicate. Ends after the terminal event, or when the server shuts down (clients
reconnect with Last-Event-ID). Yields None as a heartbeat tick.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from backend.events import Event
from backend.runtime.bus import CLOSED, LAGGED, EventBus
from backend.store.base import Store

PAGE = 500


async def follow(
    store: Store, bus: EventBus, job_id: str, after: int, heartbeat: float
) -> AsyncIterator[Event | None]:
    subscription = bus.subscribe(job_id)
    last = after
    try:
        while True:  # replay, then catch up whenever the live feed has a hole
            page = await store.events_after(job_id, last, PAGE)
            for event in page:
                yield event
                last = event.seq or last
                if event.type.terminal:
                    return
            if len(page) == PAGE:
                continue
            job = await store.get_job(job_id)
            if job is None or (job.status.terminal and last >= job.last_seq):
                return
            while True:  # live
                item = await subscription.get(heartbeat)
                if item is None:
                    yield None
                    continue
                if item is CLOSED:
                    return
                if item is LAGGED:
                    break
                assert isinstance(item, Event)
                if item.seq is None:
                    yield item  # live-only (llm.delta)
                    continue
                if item.seq <= last:
                    continue
                if item.seq > last + 1:
                    break  # a hole: fill it from the store
                yield item
                last = item.seq
                if item.type.terminal:
                    return
    finally:
        subscription.close()
