"""The event writer: order, batching of bursts, and handing queued events to a checkpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pocketflow import AsyncFlow, AsyncNode

from backend.domain import Checkpoint, Job, JobStatus, utcnow
from backend.errors import StoreUnavailable
from backend.events import Event, EventType, NewEvent
from backend.ids import new_id
from backend.runtime.bus import LocalBus
from backend.runtime.writer import EventWriter, durable, in_order
from backend.store.base import BatchItem
from backend.store.sqlalchemy import SQLStore
from flows import context


class CountingStore(SQLStore):
    """Records the event types of every job write (one call = one transaction)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.writes: list[list[str]] = []

    async def update_job(self, job_id: str, update_: Any, events: Any = (), **kw: Any) -> Any:
        self.writes.append([e.type.value for e in events])
        return await super().update_job(job_id, update_, events, **kw)

    async def append_events(self, job_id: str, events: Any, **kw: Any) -> Any:
        self.writes.append([e.type.value for e in events])
        return await super().append_events(job_id, events, **kw)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    store = CountingStore(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await store.initialize()
    yield store
    await store.close()


async def running_job(store: SQLStore) -> str:
    now = utcnow()
    job = Job(new_id("job"), "f", JobStatus.RUNNING, {}, "alice", now, now,
              checkpoint=Checkpoint())  # fmt: skip
    await store.create_job(job, [NewEvent(EventType.JOB_CREATED, {})])
    return job.id


def progress(i: int) -> NewEvent:
    return NewEvent(EventType.NODE_PROGRESS, {"i": i})


async def test_a_burst_is_stored_in_order_in_few_transactions(store: CountingStore) -> None:
    job_id = await running_job(store)
    writer = EventWriter(store, LocalBus(), job_id, fence=0, last_seq=1, max_events=1000)
    for i in range(50):
        writer.append(progress(i))
    await writer.flush()
    await writer.close()
    stored = await store.events_after(job_id, 1)
    assert [e.data["i"] for e in stored] == list(range(50))
    assert [e.seq for e in stored] == list(range(2, 52))
    assert len(store.writes) <= 2, store.writes  # the first event, then the rest together


async def test_take_hands_over_what_is_queued_unwritten(store: CountingStore) -> None:
    job_id = await running_job(store)
    writer = EventWriter(store, LocalBus(), job_id, fence=0, last_seq=1, max_events=1000)
    writer.append(progress(0))
    writer.append(progress(1))
    taken = await writer.take()  # nothing has run the drain task yet: both are handed over
    await writer.close()
    assert [e.data["i"] for e in taken] == [0, 1]
    assert store.writes == []
    assert await store.events_after(job_id, 1) == []


async def test_take_waits_for_the_write_in_flight(store: CountingStore) -> None:
    job_id = await running_job(store)
    writer = EventWriter(store, LocalBus(), job_id, fence=0, last_seq=1, max_events=1000)
    writer.append(progress(0))
    await asyncio.sleep(0)  # the drain task starts writing event 0
    writer.append(progress(1))
    taken = await writer.take()
    stored = await store.events_after(job_id, 1)  # read before anything else can write
    await writer.close()
    # event 0 was written before take() returned; event 1 was either handed over or
    # written by then too, never both, never after a taken event
    assert [e.data["i"] for e in stored] + [e.data["i"] for e in taken] == [0, 1]


def live(job_id: str, text: str) -> Event:
    return Event(job_id, EventType.LLM_DELTA, {"node": "N", "text": text}, utcnow(), 0)


def published(bus: LocalBus, job_id: str) -> Any:
    """What a follower reads: each event's type and its text or number."""
    subscription = bus.subscribe(job_id)

    def read() -> list[Any]:
        items = subscription.take()
        return [(e.type.value, e.data.get("text", e.data.get("i"))) for e in items]

    return read


async def test_live_text_goes_out_at_once_when_nothing_durable_waits(
    store: CountingStore,
) -> None:
    job_id = await running_job(store)
    bus = LocalBus()
    read = published(bus, job_id)
    writer = EventWriter(store, bus, job_id, fence=0, last_seq=1, max_events=1000)
    writer.append_live([live(job_id, "now")])
    assert read() == [("llm.delta", "now")]  # no task, no write: the same call
    await writer.close()


class HeldStore(CountingStore):
    """A store whose writes wait for `go` while `held` (a write in flight), and fail with
    StoreUnavailable `failures` times (the database down)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.held, self.failures = False, 0
        self.writing, self.go = asyncio.Event(), asyncio.Event()

    async def append_events(self, job_id: str, events: Any, **kw: Any) -> Any:
        if self.held:
            self.writing.set()
            await self.go.wait()
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("database is locked")
        return await super().append_events(job_id, events, **kw)


async def test_live_text_never_overtakes_a_durable_event_appended_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry being written, then the next try's text: a follower reads them in that
    order (the text went out first, and a watcher dropped it with the retry) - also
    behind events the checkpoint takes, and behind a write the database refused."""
    from backend.runtime import writer as writer_module

    monkeypatch.setattr(writer_module, "RETRY_DELAY", 0.01)
    store = HeldStore(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await store.initialize()
    job_id = await running_job(store)
    bus = LocalBus()
    read = published(bus, job_id)
    writer = EventWriter(store, bus, job_id, fence=0, last_seq=1, max_events=1000)

    store.held = True
    writer.append(progress(0))
    await store.writing.wait()  # event 0 is being written; nothing else is queued
    writer.append_live([live(job_id, "a")])
    writer.append(progress(1))
    writer.append_live([live(job_id, "b")])
    assert read() == []
    store.held = False
    store.go.set()
    await writer.flush()
    assert read() == [("node.progress", 0), ("llm.delta", "a"),
                      ("node.progress", 1), ("llm.delta", "b")]  # fmt: skip

    writer.append(progress(2))
    writer.append_live([live(job_id, "c")])  # behind event 2, which the checkpoint takes
    taken = await writer.take()
    stored = await store.append_events(job_id, durable(taken), expect=None)
    assert stored is not None
    bus.publish(in_order(taken, stored))
    assert read() == [("node.progress", 2), ("llm.delta", "c")]

    store.failures = 2  # event 3's write fails twice, then goes through
    later = bus.subscribe(job_id)
    writer.append(progress(3))
    writer.append_live([live(job_id, "d")])
    arrived = [await later.get(5), await later.get(5)]
    await writer.close()
    await store.close()
    assert [(e.type.value, e.data.get("text", e.data.get("i"))) for e in arrived] == [  # type: ignore[union-attr]
        ("node.progress", 3),
        ("llm.delta", "d"),
    ]
    assert store.failures == 0 and writer.last_seq == 5


async def test_taken_progress_lines_respect_the_event_limit(store: CountingStore) -> None:
    job_id = await running_job(store)
    writer = EventWriter(store, LocalBus(), job_id, fence=0, last_seq=1, max_events=3)
    for i in range(5):
        writer.append(progress(i))
    writer.append(NewEvent(EventType.ARTIFACT_CREATED, {"artifact_id": "a"}))
    taken = await writer.take()
    await writer.close()
    assert [e.type for e in taken] == [EventType.NODE_PROGRESS] * 2 + [EventType.ARTIFACT_CREATED]


async def test_a_nodes_last_reports_share_its_checkpoint_transaction(tmp_path: Path) -> None:
    from tests.harness import running_app

    store = CountingStore(f"sqlite+aiosqlite:///{tmp_path / 'genflow.db'}")
    async with running_app(tmp_path, store=store) as h:
        job = await h.create("article", {"topic": "coffee"})
        done = await h.wait_for(job["id"])
        events = await h.events(job["id"])
    assert done["status"] == "completed"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    # "Outline ready" is reported in post: it is stored with GenerateOutline's node.finished
    # (and the next node's start, which follows at once)
    assert any(w[-3:] == ["node.progress", "node.finished", "node.started"] for w in store.writes)
    # the last node's checkpoint completes the job in the same transaction
    assert store.writes[-1][-2:] == ["node.finished", "job.completed"]


async def test_events_whose_write_failed_are_stored_once_the_database_is_back(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No event is dropped for an outage, and none waits for the node's next report."""
    from backend.errors import StoreUnavailable
    from backend.runtime import writer as writer_module

    monkeypatch.setattr(writer_module, "RETRY_DELAY", 0.01)
    job_id = await running_job(store)
    outage = 3
    real_append = store.append_events

    async def failing_append(*args: Any, **kwargs: Any) -> Any:
        nonlocal outage
        if outage:
            outage -= 1
            raise StoreUnavailable("database error: OperationalError")
        return await real_append(*args, **kwargs)

    monkeypatch.setattr(store, "append_events", failing_append)
    writer = EventWriter(store, LocalBus(), job_id, fence=0, last_seq=1, max_events=1000)
    writer.append(progress(0))
    writer.append(progress(1))
    while len(await store.events_after(job_id, 1)) < 2:  # nothing else is appended
        await asyncio.sleep(0.01)
    await writer.close()
    stored = await store.events_after(job_id, 1)
    assert [e.data["i"] for e in stored] == [0, 1]
    assert outage == 0


async def test_reports_of_a_node_that_ends_in_the_same_loop_turn_go_with_its_checkpoint(
    store: CountingStore,
) -> None:
    job_id = await running_job(store)
    writer = EventWriter(store, LocalBus(), job_id, fence=0, last_seq=1, max_events=1000)
    writer.append(progress(0))
    await asyncio.sleep(0)  # the node awaits once (a model answering at once) and ends
    taken = await writer.take()
    await asyncio.sleep(0.05)  # the drain task had its turn: it finds nothing left to write
    await writer.close()
    assert [e.data["i"] for e in taken] == [0]
    assert store.writes == []


async def test_reports_of_a_node_that_keeps_working_are_written_meanwhile(
    store: CountingStore,
) -> None:
    job_id = await running_job(store)
    bus = LocalBus()
    follower = bus.subscribe(job_id)
    writer = EventWriter(store, bus, job_id, fence=0, last_seq=1, max_events=1000)
    writer.append(progress(0))
    published = await follower.get_ready(10)  # published only once stored
    stored = await store.events_after(job_id, 1)
    await writer.close()
    assert [e.seq for e in published] == [e.seq for e in stored] == [2]  # type: ignore[attr-defined]
    assert store.writes == [["node.progress"]]


class Quick(AsyncNode):
    async def exec_async(self, prep_res: Any) -> str:
        context.report("working")
        await asyncio.sleep(0)  # a model that answers at once
        return "ok"


class Slow(AsyncNode):
    async def exec_async(self, prep_res: Any) -> str:
        await asyncio.sleep(0.05)  # a model that takes its time: the node's start is stored
        return "ok"


async def run_two(tmp_path: Path, node: type[AsyncNode]) -> tuple[CountingStore, list[Any]]:
    """Two nodes of a kind, then Finish, run by the app: its writes and the job's events."""
    from tests.backend.test_runner import Finish, spec
    from tests.harness import running_app

    def build() -> AsyncFlow:
        first, second = node(), node()
        second.name = f"{node.__name__}2"
        first >> second >> Finish()
        return AsyncFlow(start=first)

    store = CountingStore(f"sqlite+aiosqlite:///{tmp_path / 'genflow.db'}")
    async with running_app(tmp_path, flows=spec("counted", build), store=store) as h:
        job = await h.create("counted", {})
        done = await h.wait_for(job["id"])
        events = await h.events(job["id"])
    assert done["status"] == "completed"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    return store, events


async def test_a_quick_node_costs_one_transaction(tmp_path: Path) -> None:
    """The node's report and node.finished with its checkpoint, together - and the next
    node's start, announced by that checkpoint."""
    store, _ = await run_two(tmp_path, Quick)
    node_writes = [w for w in store.writes if "node.finished" in w]
    assert node_writes[:2] == [
        ["node.started", "node.progress", "node.finished", "node.started"],
        ["node.progress", "node.finished", "node.started"],
    ]


async def test_the_next_nodes_start_is_stored_with_the_checkpoint_before_it(
    tmp_path: Path,
) -> None:
    """A node that waits for its model does not cost a write of its own `node.started`:
    the checkpoint that moves the job to it says it started, in the order it happened."""
    store, events = await run_two(tmp_path, Slow)
    assert ["node.finished", "node.started"] in [w[-2:] for w in store.writes]
    # only the first node, which no checkpoint precedes, has a write of its own
    assert store.writes.count(["node.started"]) == 1
    nodes = [(e["type"], e["data"].get("node")) for e in events if e["type"].startswith("node.")]
    assert nodes == [
        ("node.started", "Slow"), ("node.finished", "Slow"),
        ("node.started", "Slow2"), ("node.finished", "Slow2"),
        ("node.started", "Finish"), ("node.finished", "Finish"),
    ]  # fmt: skip
    assert all(e["data"]["attempt"] == 1 for e in events if e["type"] == "node.started")


async def test_finished_batch_items_share_the_events_transaction(store: CountingStore) -> None:
    """Three sections finishing together: their items and their progress lines are one
    write, not six; a checkpoint taking over drops the items it makes moot."""
    job_id = await running_job(store)
    writer = EventWriter(store, LocalBus(), job_id, fence=0, last_seq=1, max_events=1000)
    for i in range(3):
        writer.append(progress(i))
        writer.save_item(BatchItem("Write#1", i, f"section {i}"))
    await writer.flush()
    assert store.writes == [["node.progress"] * 3]
    assert await store.batch_items(job_id, "Write#1") == {i: f"section {i}" for i in range(3)}
    writer.save_item(BatchItem("Write#1", 3, "never stored"))
    assert await writer.take() == []
    await writer.flush()
    await writer.close()
    assert len(store.writes) == 1
    assert 3 not in await store.batch_items(job_id, "Write#1")


async def items_waiting(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch, delay: float
) -> tuple[str, EventWriter]:
    """A running job's writer whose batch items wait `delay` seconds for events."""
    from backend.runtime import writer as writer_module

    monkeypatch.setattr(writer_module, "ITEM_DELAY", delay)
    job_id = await running_job(store)
    return job_id, EventWriter(store, LocalBus(), job_id, fence=0, last_seq=1, max_events=1000)


async def test_an_item_with_no_event_to_ride_with_is_written_alone_after_a_delay(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, writer = await items_waiting(store, monkeypatch, 0.05)
    writer.save_item(BatchItem("Rewrite#1", 0, "styled"))
    await writer.flush()  # flush keeps the events' order; an item has none to keep
    assert store.writes == []
    while not await store.batch_items(job_id, "Rewrite#1"):  # stored once the delay is up
        await asyncio.sleep(0.01)
    await writer.close()
    assert store.writes == [[]]
    assert await store.batch_items(job_id, "Rewrite#1") == {0: "styled"}


async def test_a_checkpoint_within_the_delay_spares_the_items_write(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last items of a batch: the node's checkpoint comes a moment after them."""
    _, writer = await items_waiting(store, monkeypatch, 0.5)
    for i in range(3):
        writer.save_item(BatchItem("Rewrite#1", i, f"styled {i}"))
    await asyncio.sleep(0.02)  # the node's post_async, some loop turns
    assert await writer.take() == []
    await asyncio.sleep(0.6)  # past the delay: its timer went with the take
    await writer.close()
    assert store.writes == []
