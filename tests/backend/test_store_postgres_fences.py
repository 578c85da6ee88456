"""PostgreSQL only: a fenced batch item and a claim or cancel of its job are ordered.

The runner's event writer saves finished items with its events in one statement
(`pg_append`): the fenced UPDATE of the job row comes first, and the items' INSERT reads
its row. The UPDATE locks the job row it checks: a claim or cancel waits for the item's
transaction, and an item that meets a claim or cancel in flight waits for it, then sees
the job's new row and writes nothing. Without that order either could interleave (the
foreign-key check's KEY SHARE lock does not conflict with an UPDATE of non-key columns).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Connection, Engine, create_engine, update

from backend.domain import JobStatus
from backend.events import EventType, NewEvent
from backend.runtime.states import ACTIVE, CHECKPOINT
from backend.store import queries as q
from backend.store.base import BatchItem, JobUpdate
from backend.store.migrate import conninfo
from backend.store.sqlalchemy import SQLStore
from backend.store.tables import jobs
from tests.backend.test_store_leases import claimed


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    """A second client of the same database, whose transactions the test holds open."""
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


async def lock_waiters(url: str, count: int = 1) -> None:
    """Until `count` sessions of this database wait for a lock (observed, not slept on)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with psycopg.connect(conninfo(url), autocommit=True) as watcher:
        async with asyncio.timeout(10):
            while watcher.execute(query).fetchone() != (count,):
                await asyncio.sleep(0.01)


def line() -> NewEvent:
    return NewEvent(EventType.NODE_PROGRESS, {"node": "Fan", "message": "1 of 1"})


def open_transaction(engine: Engine) -> Connection:
    conn = engine.connect()
    conn.begin()
    return conn


async def test_a_cancel_waits_for_a_fenced_item_being_written(
    pg_store: SQLStore, engine: Engine
) -> None:
    job = await claimed(pg_store)
    writer = open_transaction(engine)
    try:
        written = q.append_events(
            writer, job.id, [line()], progress=None, expect=CHECKPOINT.sources, fence=1,
            items=[BatchItem("Fan#1", 0, {"r": 1})],
        )  # fmt: skip
        assert written is not None
        cancel = JobUpdate(status=JobStatus.CANCELLED)
        cancelling = asyncio.create_task(pg_store.update_job(job.id, cancel, expect=ACTIVE))
        await lock_waiters(pg_store.url)
        assert not cancelling.done()
        writer.commit()
    finally:
        writer.close()
    cancelled = await cancelling
    assert cancelled is not None and cancelled[0].status is JobStatus.CANCELLED
    assert await pg_store.batch_items(job.id, "Fan#1") == {0: {"r": 1}}


async def save_stale_item(store: SQLStore, job_id: str) -> bool:
    """As the runner's event writer saves an item: with its events, fence 1."""
    stored = await store.append_events(
        job_id, [line()], expect=CHECKPOINT.sources, fence=1,
        items=[BatchItem("Fan#1", 0, {"r": "stale"})],
    )  # fmt: skip
    return stored is not None


@pytest.mark.parametrize("change", ["takeover", "cancel"])
async def test_a_fenced_item_that_meets_a_takeover_or_cancel_writes_nothing(
    pg_store: SQLStore, engine: Engine, change: str
) -> None:
    """READ COMMITTED: the fenced UPDATE the item rides behind waits for the UPDATE in
    flight, then evaluates its WHERE again on the row that UPDATE committed, and matches
    nothing."""
    job = await claimed(pg_store)
    events_before = await pg_store.events_after(job.id)
    values = (
        {"attempts": jobs.c.attempts + 1}
        if change == "takeover"
        else {"status": JobStatus.CANCELLED.value}
    )
    other = open_transaction(engine)
    try:
        other.execute(update(jobs).where(jobs.c.id == job.id).values(**values))
        saving = asyncio.create_task(save_stale_item(pg_store, job.id))
        await lock_waiters(pg_store.url)
        assert not saving.done()
        other.commit()
    finally:
        other.close()
    assert await saving is False
    assert await pg_store.batch_items(job.id, "Fan#1") == {}
    assert await pg_store.events_after(job.id) == events_before  # nor a progress line
