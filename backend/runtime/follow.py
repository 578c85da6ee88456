"""Follow one job's events: replay what is stored after `after`, then go live.

Subscribes BEFORE replaying, so nothing published in between is missed; skips what was
already sent and refills from the store on any hole in `seq`, on LAGGED (the bus may have
missed events: a queue overflow, a broken Redis connection, Redis down) and on every
heartbeat tick (a safety net, should a publish have been lost without anyone noticing). So
there is no gap and no duplicate. Ends after the terminal event; raises `ServerClosing`
when the bus offers CLOSED (the server is shutting down: the client reconnects, with
Last-Event-ID, to this or another replica). Yields the events in batches - whatever is ready
at once (a replayed page, the events of one transaction) goes out in one write - and an
empty batch as a heartbeat when nothing was sent for `heartbeat` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from backend.events import Event
from backend.runtime.bus import CLOSED, LAGGED, EventBus
from backend.store.base import Store

PAGE = 500


class ServerClosing(Exception):
    """The server is shutting down; the job may well go on (unlike a normal end)."""


async def follow(
    store: Store, bus: EventBus, job_id: str, after: int, heartbeat: float
) -> AsyncIterator[list[Event]]:
    subscription = bus.subscribe(job_id)
    clock = asyncio.get_running_loop().time
    last = after
    deadline = clock() + heartbeat  # of the next heartbeat, unless something is sent first
    tick = False
    replay = True  # the first read, from where the client asked to start
    try:
        while True:  # replay, then catch up whenever the live feed may have missed events
            page = await store.events_after(job_id, last, PAGE)
            batch = _upto_terminal(page)
            if batch:
                yield batch
                deadline, tick = clock() + heartbeat, False
                last = batch[-1].seq or last
                if batch[-1].type.terminal:
                    return
            if len(page) == PAGE:
                continue
            if not page and replay:  # nothing after where the client started: it may be over
                job = await store.get_job(job_id)
                if job is None or (job.status.terminal and last >= job.last_seq):
                    return
            # (Later, `last` is what this stream sent, and it ends once it sends the
            # terminal event: an empty catch-up means the job goes on, so it is not read.)
            replay = False
            if tick:
                yield []
                deadline, tick = clock() + heartbeat, False
            # (A page without the terminal event was read after subscribing: the job was
            # still going, so whatever comes next reaches the subscription, or LAGGED does.)
            while True:  # live
                items = await subscription.get_ready(max(0.0, deadline - clock()))
                if not items:
                    tick = True  # check the store, then send the heartbeat
                    break
                batch, last, state = _live_batch(items, last)
                if batch:
                    yield batch
                    deadline = clock() + heartbeat
                if state is _CLOSING:
                    raise ServerClosing
                if state is _END:
                    # Ending the stream (the end of the response, the request torn down)
                    # costs more than a write: the other followers get the end first.
                    await subscription.after_fan_out()
                    return
                if state is _REFILL:
                    break
    finally:
        subscription.close()


_END, _REFILL, _CLOSING, _GO_ON = object(), object(), object(), object()


def _upto_terminal(events: list[Event]) -> list[Event]:
    for index, event in enumerate(events):
        if event.type.terminal:
            return events[: index + 1]
    return events


def _live_batch(items: list[object], last: int) -> tuple[list[Event], int, object]:
    """The events of `items` to send now, the new `last`, and what to do next. Once a
    refill is due, later events are left to it; a CLOSED among them still counts."""
    batch: list[Event] = []
    refill = False
    for item in items:
        if item is CLOSED:
            return batch, last, _CLOSING
        if refill:
            continue
        if item is LAGGED:
            refill = True
            continue
        assert isinstance(item, Event)
        if item.seq is None:
            batch.append(item)  # live-only (llm.delta)
            continue
        if item.seq <= last:
            if item.type.terminal:
                return batch, last, _END  # the client asked to start past the end
            continue
        if item.seq > last + 1:
            refill = True  # a hole: fill it from the store
            continue
        batch.append(item)
        last = item.seq
        if item.type.terminal:
            return batch, last, _END
    return batch, last, _REFILL if refill else _GO_ON
