"""PostgreSQL only: what a server restart and concurrent start-ups do to the store."""

from __future__ import annotations

import asyncio
import sys

import psycopg

from backend.domain import JobStatus
from backend.events import EventType, NewEvent
from backend.store.base import JobUpdate
from backend.store.migrate import MIGRATION_LOCK, conninfo
from backend.store.sqlalchemy import SQLStore
from tests.backend.test_store import created, new_job


def terminate_other_connections(url: str) -> int:
    """What a server restart does to a pool: every connection it holds is dead. Returns
    once the backends are gone (the timeout form of pg_terminate_backend waits), as they
    are long before a restarted server takes calls again."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND usename = current_user"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


async def test_pooled_connections_killed_by_the_server_are_replaced(pg_store: SQLStore) -> None:
    job, _ = await pg_store.create_job(new_job(), created())
    await asyncio.gather(*(pg_store.get_job(job.id) for _ in range(5)))  # fill the pool
    assert terminate_other_connections(pg_store.url) >= 1
    progress = [NewEvent(EventType.NODE_PROGRESS, {})]
    assert await pg_store.append_events(job.id, progress) is not None
    assert await pg_store.get_job(job.id) is not None
    assert await asyncio.gather(*(pg_store.get_job(job.id) for _ in range(5)))
    assert pg_store.failing is False


async def migrate_in_a_process(url: str) -> asyncio.subprocess.Process:
    """Alembic keeps its context in module globals: one migration per process."""
    code = "import sys; from backend.store.migrate import upgrade; upgrade(sys.argv[1])"
    return await asyncio.create_subprocess_exec(sys.executable, "-c", code, url)


async def test_concurrent_migrations_take_turns(postgres_url: str) -> None:
    """Replicas and workers start together; each one migrates the same database, one at a
    time: a migration waits while another holds the lock."""
    with psycopg.connect(conninfo(postgres_url)) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
        processes = [await migrate_in_a_process(postgres_url) for _ in range(3)]
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        with psycopg.connect(conninfo(postgres_url), autocommit=True) as watcher:
            async with asyncio.timeout(30):
                while watcher.execute(waiting).fetchone() != (3,):
                    await asyncio.sleep(0.05)
        holder.rollback()  # releases the lock: the three migrate in turn
    codes = [await asyncio.wait_for(p.wait(), timeout=60) for p in processes]
    assert codes == [0, 0, 0]
    store = SQLStore(postgres_url)
    try:
        job, _ = await store.create_job(new_job(), created())
        saved = await store.update_job(job.id, JobUpdate(status=JobStatus.CANCELLED))
        assert saved is not None and saved[0].status is JobStatus.CANCELLED
    finally:
        await store.close()


async def test_a_bare_postgresql_url_uses_psycopg_3(postgres_url: str) -> None:
    bare = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    store = SQLStore(bare)
    try:
        await store.initialize()
        await store.ping()
    finally:
        await store.close()
