"""Ordered durable appends of a running job's events (progress, artifacts).

Nodes report from the event loop or from worker threads; the writer funnels both into
one list drained by one task, so events keep their order and each is stored (with its
seq) before it is published. Whatever has queued up while a write was in flight goes
into the next write together, so a burst of progress lines costs one transaction.
Before a checkpoint the runner `take`s what is still queued and stores it in the
checkpoint's own transaction, so a node's events always come before its `node.finished`.
The drain task lets the current turn of the event loop finish before it writes: a node
that ends in that turn hands its reports to its checkpoint (one transaction, not two);
one that keeps working has them written while it does.

A batch node's finished items (`save_item`) go out in the same writes: an item and the
progress line that says it is done cost one transaction, and items that finish together
share one. An item is only there to spare work after a crash mid-node, so one still
queued when the node checkpoints is dropped: the checkpoint makes it moot. For the same
reason an item with no event to ride with waits up to `ITEM_DELAY` for one before it
is written alone: the last items of a batch are usually overtaken by the checkpoint a
moment later, which spares their write.

Live-only events (a node's streamed text, `append_live`) keep their place among the
durable ones: published at once when nothing durable is waiting, else queued behind what
was appended before them and published right after it is stored (by a write or by the
checkpoint that took it). A follower never reads text streamed after a retry before the
retry itself; while the database is down, text waits with the events before it.

Every write carries the run's fence: once another runner owns the job, nothing more is
stored. A write that fails because the database does is not dropped: the events wait
and go out with the next write (or the checkpoint) once the database is back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

from backend.errors import StoreUnavailable
from backend.events import Event, EventType, NewEvent
from backend.runtime import states
from backend.runtime.bus import EventBus
from backend.store.base import BatchItem, Store

log = logging.getLogger(__name__)
BATCH = 200  # events per transaction at most
RETRY_DELAY = 1.0  # seconds between tries while the database fails
ITEM_DELAY = 0.5  # seconds a finished batch item waits for events to share a write with
Entry = NewEvent | Event  # durable (to be stored), or live-only (published as it is)


def durable(entries: Sequence[Entry]) -> list[NewEvent]:
    """The entries to store."""
    return [entry for entry in entries if isinstance(entry, NewEvent)]


def in_order(entries: Sequence[Entry], stored: list[Event]) -> list[Event]:
    """What to publish once `durable(entries)` are stored as `stored`: each in its place,
    the live ones between them where they were appended."""
    if len(stored) == len(entries):
        return stored  # nothing live among them (a node that streamed nothing late)
    numbered = iter(stored)
    return [next(numbered) if isinstance(entry, NewEvent) else entry for entry in entries]


class EventWriter:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        job_id: str,
        *,
        fence: int,
        last_seq: int,
        max_events: int,
    ) -> None:
        self.store, self.bus, self.job_id, self.fence = store, bus, job_id, fence
        self.lost = False  # a write was refused: the job is not this run's any more
        self._unwritten: list[Entry] = []  # a failed write's events, oldest first
        self._unwritten_items: list[BatchItem] = []  # ... and its items
        self.progress: int | None = None
        self.last_seq = last_seq
        self._max_events = max_events
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._queued: list[Entry] = []  # appended, not yet written or taken
        self._items: list[BatchItem] = []  # finished batch items, not yet written
        self._items_due: asyncio.TimerHandle | None = None  # when they go out alone
        self._arrived = asyncio.Event()  # set while `_queued` is not empty
        self._writing = False
        self._written = asyncio.Event()  # set whenever no write is in flight
        self._written.set()
        self._settled = asyncio.Event()  # set when nothing is queued or being written
        self._settled.set()
        self._task = asyncio.create_task(self._drain(), name=f"events:{job_id}")

    def append(self, event: NewEvent) -> None:
        """Queue a durable event; safe to call from any thread."""
        if threading.get_ident() == self._loop_thread:
            self._queue(event)
        else:
            self._loop.call_soon_threadsafe(self._queue, event)

    def _queue(self, event: NewEvent) -> None:
        self._queued.append(event)
        self._arrived.set()
        self._settled.clear()

    def append_live(self, events: list[Event]) -> None:
        """Publish live-only events (from the event loop's thread) after every durable
        event appended before them: now if none is waiting to be stored."""
        if self._queued or self._unwritten or self._writing:
            self._queued.extend(events)
            self._arrived.set()
            self._settled.clear()
        else:
            self.bus.publish(events)

    def save_item(self, item: BatchItem) -> None:
        """Queue a finished batch item (from the event loop), to be stored with the next
        write of events, or alone after `ITEM_DELAY`. `flush` does not wait for it: items
        have no order to keep."""
        self._items.append(item)
        if self._items_due is None:
            self._items_due = self._loop.call_later(ITEM_DELAY, self._arrived.set)

    def _items_taken(self) -> None:
        if self._items_due is not None:
            self._items_due.cancel()
            self._items_due = None

    async def flush(self) -> None:
        """Wait until everything appended so far is stored (or taken by a checkpoint)."""
        await asyncio.sleep(0)  # let call_soon_threadsafe callbacks land first
        while not self._settled.is_set():
            await self._settled.wait()

    async def take(self) -> list[Entry]:
        """Wait for the write in flight, then hand over what is still queued, unwritten.

        The caller stores the `durable` ones in its own transaction (and tells the writer
        the new `last_seq`) and publishes them `in_order` with the live ones; progress
        lines over the per-job limit are dropped here as well, and so are batch items not
        yet written (the caller's checkpoint makes them moot).
        Appends made from a node's worker thread have landed by now: their callbacks were
        scheduled before the one that resumed the caller.
        """
        while self._writing:
            await self._written.wait()
        events, self._unwritten = [*self._unwritten, *self._queued], []  # no await from here
        self._queued, self._items, self._unwritten_items = [], [], []
        self._items_taken()
        self._arrived.clear()
        self._settled.set()
        return self._within_limit(events, self.last_seq)

    async def close(self) -> None:
        self._items_taken()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def _drain(self) -> None:
        while True:
            # Events a failed write kept are tried again at once (after the pause below),
            # not only when the node appends or checkpoints again, which may be long.
            if not (self._unwritten or self._unwritten_items):
                await self._arrived.wait()
                await asyncio.sleep(0)  # this loop turn first: a checkpoint may take them
                if not (self._queued or self._items):
                    continue
            events, self._queued = self._queued[:BATCH], self._queued[BATCH:]
            items, self._items = [*self._unwritten_items, *self._items], []
            self._items_taken()
            if not self._queued:
                self._arrived.clear()
            self._writing = True
            self._written.clear()
            self._settled.clear()
            try:
                await self._store([*self._unwritten, *events], items)
                self._unwritten, self._unwritten_items = [], []
            except StoreUnavailable as exc:  # keep them for the next try or the checkpoint
                self._unwritten = [*self._unwritten, *events]
                self._unwritten_items = items
                log.warning(
                    "job %s: %d event(s) wait for the database: %s",
                    self.job_id,
                    len(self._unwritten),
                    exc,
                )
                await asyncio.sleep(RETRY_DELAY)
            except Exception:  # a lost progress line must not kill the job
                log.exception("could not store %d event(s) for job %s", len(events), self.job_id)
                live = [entry for entry in events if isinstance(entry, Event)]
                if live:  # the text itself was never to be stored
                    self.bus.publish(live)
            finally:
                self._writing = False
                self._written.set()
                if not self._queued:  # tried, like before: flush does not wait out an outage
                    self._settled.set()

    def _within_limit(self, entries: list[Entry], last_seq: int) -> list[Entry]:
        """Progress lines beyond `max_events` are dropped; state events never are (nor
        live ones, which are not stored)."""
        kept = []
        for entry in entries:
            if isinstance(entry, NewEvent):
                if entry.type is EventType.NODE_PROGRESS and last_seq >= self._max_events:
                    continue
                last_seq += 1
            kept.append(entry)
        return kept

    async def _store(self, entries: list[Entry], items: list[BatchItem]) -> None:
        entries = self._within_limit(entries, self.last_seq)
        events = durable(entries)
        if not (events or items):
            if entries:
                self.bus.publish(in_order(entries, []))
            return
        stored = await self.store.append_events(
            self.job_id,
            events,
            progress=self.progress,
            expect=states.CHECKPOINT.sources,
            fence=self.fence,
            items=items,
        )
        if stored is None:
            self.lost = True
        else:
            if stored:
                self.last_seq = stored[-1].seq or self.last_seq
            if entries:
                self.bus.publish(in_order(entries, stored))
