"""Group commit: the writes queued together share one COMMIT, and each is still its own
all-or-nothing, committed before its caller hears of it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, event, text

from backend.store.group_commit import MAX_GROUP, GroupCommit


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'g.db'}")
    with engine.begin() as conn:
        conn.execute(text("PRAGMA journal_mode=WAL"))
        conn.execute(text("CREATE TABLE rows (n INTEGER PRIMARY KEY)"))
    yield engine
    engine.dispose()


def commits(engine: Engine) -> list[int]:
    counted: list[int] = []
    event.listen(engine, "commit", lambda _conn: counted.append(1))
    return counted


def stored(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [n for (n,) in conn.execute(text("SELECT n FROM rows ORDER BY n"))]


def insert(n: int):
    def work(conn: Connection) -> int:
        conn.execute(text("INSERT INTO rows (n) VALUES (:n)"), {"n": n})
        return n * 10

    return work


async def held(writer: GroupCommit) -> tuple[threading.Event, asyncio.Future[bool]]:
    """Occupy the writer thread, so what is queued next is queued together."""
    release, running = threading.Event(), threading.Event()

    def hold(_conn: Connection) -> bool:
        running.set()
        return release.wait(10)

    blocker = writer.write(hold)
    await asyncio.to_thread(running.wait, 10)
    return release, blocker


async def test_writes_queued_together_share_one_commit(engine: Engine) -> None:
    writer = GroupCommit(engine.connect)
    release, blocker = await held(writer)
    counted = commits(engine)
    futures = [writer.write(insert(n)) for n in range(50)]
    release.set()
    assert await blocker is True
    assert await asyncio.gather(*futures) == [n * 10 for n in range(50)]
    writer.close_connection()
    writer.shutdown()
    assert stored(engine) == list(range(50))
    assert len(counted) == 2  # the blocker's own, then one for the fifty


async def test_a_group_holds_at_most_max_group_writes(engine: Engine) -> None:
    writer = GroupCommit(engine.connect)
    release, blocker = await held(writer)
    counted = commits(engine)
    futures = [writer.write(insert(n)) for n in range(MAX_GROUP + 1)]
    release.set()
    await blocker
    await asyncio.gather(*futures)
    writer.shutdown()
    assert len(counted) == 3  # the blocker, a full group, and the one left over


async def test_a_failing_write_is_rolled_back_alone_and_raised_to_its_caller(
    engine: Engine,
) -> None:
    writer = GroupCommit(engine.connect)
    release, blocker = await held(writer)

    def half_then_fail(conn: Connection) -> None:
        conn.execute(text("INSERT INTO rows (n) VALUES (100)"))
        conn.execute(text("INSERT INTO rows (n) VALUES (1)"))  # taken by the write before

    first, failing, last = (
        writer.write(insert(1)),
        writer.write(half_then_fail),
        writer.write(insert(2)),
    )
    release.set()
    await blocker
    assert await first == 10 and await last == 20
    with pytest.raises(Exception, match="UNIQUE"):
        await failing
    writer.shutdown()
    assert stored(engine) == [1, 2]  # not 100: the failing write left nothing behind


async def test_a_group_whose_commit_fails_runs_each_write_again_alone(engine: Engine) -> None:
    writer = GroupCommit(engine.connect)
    release, blocker = await held(writer)
    seen: list[int] = []

    def refuse_the_groups(_conn: Connection) -> None:
        seen.append(1)
        if len(seen) == 2:  # the blocker's commit goes through, the group's does not
            raise sqlite3.OperationalError("disk I/O error")

    futures = [writer.write(insert(n)) for n in range(10)]
    event.listen(engine, "commit", refuse_the_groups)
    release.set()
    await blocker
    assert await asyncio.gather(*futures) == [n * 10 for n in range(10)]
    writer.shutdown()
    assert len(seen) == 2 + 10  # the blocker, the refused group, then each write alone
    assert stored(engine) == list(range(10))  # each exactly once


async def test_a_result_is_handed_back_only_once_it_is_committed(
    engine: Engine, tmp_path: Path
) -> None:
    writer = GroupCommit(engine.connect)
    release, blocker = await held(writer)
    seen_by_others: list[bool] = []

    def check(n: int):
        def look(_future: asyncio.Future[int]) -> None:
            reader = sqlite3.connect(tmp_path / "g.db")  # another connection: commits only
            try:
                found = reader.execute("SELECT 1 FROM rows WHERE n = ?", (n,)).fetchone()
            finally:
                reader.close()
            seen_by_others.append(found is not None)

        return look

    futures = [writer.write(insert(n)) for n in range(20)]
    for n, future in enumerate(futures):
        future.add_done_callback(check(n))
    release.set()
    await blocker
    await asyncio.gather(*futures)
    writer.shutdown()
    assert seen_by_others == [True] * 20


async def test_a_write_cancelled_before_it_starts_is_skipped(engine: Engine) -> None:
    writer = GroupCommit(engine.connect)
    release, blocker = await held(writer)
    kept, skipped = writer.write(insert(1)), writer.write(insert(2))
    skipped.cancel()
    release.set()
    await blocker
    assert await kept == 10
    writer.shutdown()
    assert stored(engine) == [1]


async def test_the_connection_is_closed_after_the_writes_queued_before(engine: Engine) -> None:
    writer = GroupCommit(engine.connect)
    futures = [writer.write(insert(n)) for n in range(5)]
    writer.close_connection()
    writer.shutdown()
    assert await asyncio.gather(*futures) == [n * 10 for n in range(5)]
    assert engine.pool.checkedout() == 0
    assert stored(engine) == list(range(5))


async def test_a_write_whose_commit_fails_leaves_nothing_for_the_next_one(
    engine: Engine,
) -> None:
    """SQLAlchemy does not roll back after a COMMIT that raised, and SQLite may keep the
    transaction open: the next write on the kept connection must not commit it."""
    writer = GroupCommit(engine.connect)
    seen: list[int] = []

    def refuse_the_first(_conn: Connection) -> None:
        seen.append(1)
        if len(seen) == 1:
            raise sqlite3.OperationalError("database or disk is full")

    event.listen(engine, "commit", refuse_the_first)
    with pytest.raises(sqlite3.OperationalError):
        await writer.write(insert(1))
    assert await writer.write(insert(2)) == 20
    writer.shutdown()
    assert stored(engine) == [2]
