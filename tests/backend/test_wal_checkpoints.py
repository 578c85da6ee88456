"""SQLite only: the write-ahead log reaches the database file on the store's checkpoint
thread, never inside a commit (`backend/store/wal_checkpoints.py`).

What a commit wrote is in the WAL; what a checkpoint copied is in the database file
itself, so the file copied alone (without its `-wal`) shows which of the two happened.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from backend.domain import Checkpoint, Job, JobStatus, utcnow
from backend.events import EventType, NewEvent
from backend.ids import new_id
from backend.store import wal_checkpoints
from backend.store.sqlalchemy import SQLStore

PAGES = 1000  # where SQLite's automatic checkpoint would have run
WRITES = 1000  # jobs of a 2,000-character topic: well past 2 * PAGES of WAL


def jobs_in_database_file(database: Path, tmp_path: Path) -> set[str]:
    """The job ids in the database file alone, as if its WAL were lost."""
    alone = tmp_path / "alone.db"
    shutil.copyfile(database, alone)
    conn = sqlite3.connect(alone)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM jobs")}
    finally:
        conn.close()


def wal_pages(database: Path) -> int:
    conn = sqlite3.connect(database)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    return Path(f"{database}-wal").stat().st_size // page_size


async def create_job(store: SQLStore, text: str = "t") -> str:
    now = utcnow()
    job = Job(new_id("job"), "article", JobStatus.PENDING, {"topic": text}, "alice", now, now,
              checkpoint=Checkpoint(shared={"topic": text}))  # fmt: skip
    await store.create_job(job, [NewEvent(EventType.JOB_CREATED, {"flow": "article"})])
    return job.id


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "genflow.db"


async def test_commits_leave_the_wal_to_the_checkpoint_thread(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal_checkpoints, "EVERY_S", 3600.0)  # the thread never gets to run
    store = SQLStore(f"sqlite:///{database}")
    await store.initialize()
    try:
        created = [await create_job(store, "x" * 2000) for _ in range(WRITES)]
        assert wal_pages(database) > 2 * PAGES
        assert jobs_in_database_file(database, tmp_path).isdisjoint(created)
    finally:
        await store.close()


async def test_the_checkpoint_thread_copies_what_was_written_into_the_database_file(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal_checkpoints, "EVERY_S", 0.01)
    store = SQLStore(f"sqlite:///{database}")
    await store.initialize()
    try:
        first = await create_job(store)
        await until(lambda: first in jobs_in_database_file(database, tmp_path))
        second = await create_job(store)  # the WAL changed again: checkpointed again
        await until(lambda: second in jobs_in_database_file(database, tmp_path))
    finally:
        await store.close()
    assert not any(t.name == "genflow-db-checkpoint" for t in threading.enumerate())


def test_a_removed_database_is_not_created_again(database: Path, tmp_path: Path) -> None:
    checkpoints = wal_checkpoints.WalCheckpoints(str(database))
    with pytest.raises(sqlite3.OperationalError):
        checkpoints._connect()
    assert not database.exists()


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Polls: the checkpoint thread reports to no one."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "never checkpointed"
        await asyncio.sleep(0.01)
