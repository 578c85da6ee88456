"""PostgreSQL only: procrastinate's pool (`make_app`) sends each of its queries alone.

psycopg_pool's own check sent an empty query before every checkout, and its transaction
wrapped each one-statement query in BEGIN and COMMIT. Now a connection is checked only
when it may be dead (`CheckedPool`, the rule of the store's `PrePing`), and autocommits.
The clock is injected: no test waits for time to pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from backend.runtime.queues.procrastinate_queue import make_app
from backend.store.migrate import conninfo
from backend.store.pre_ping import IDLE_PING_SECONDS, CheckedPool


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountedPool(CheckedPool):
    pings = 0

    async def ping(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.pings += 1
        await super().ping(conn)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def pool(postgres_url: str, clock: Clock) -> AsyncIterator[CountedPool]:
    """One connection, so every checkout takes the same one back."""
    pool = CountedPool(conninfo(postgres_url), min_size=1, max_size=1, open=False, clock=clock)
    await pool.open(wait=True)
    yield pool
    await pool.close()


async def backend_pid(pool: CheckedPool) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        assert row is not None
        return int(row[0])


async def terminate(url: str, pid: int) -> None:
    """What a server restart does to a pooled connection (returns once it is gone)."""
    async with await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True) as conn:
        ended = await (
            await conn.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
        ).fetchone()
        assert ended == (True,)


async def test_a_just_returned_connection_is_used_without_a_check(
    pool: CountedPool, clock: Clock
) -> None:
    pid = await backend_pid(pool)
    for _ in range(3):
        clock.now += IDLE_PING_SECONDS * 0.9
        assert await backend_pid(pool) == pid
    assert pool.pings == 0


async def test_an_idle_connection_is_checked_once_per_idle_spell(
    pool: CountedPool, clock: Clock
) -> None:
    pid = await backend_pid(pool)
    clock.now += IDLE_PING_SECONDS + 0.1
    assert await backend_pid(pool) == pid
    assert pool.pings == 1
    assert await backend_pid(pool) == pid
    assert pool.pings == 1


@pytest.mark.parametrize("idle", [0.0, IDLE_PING_SECONDS + 0.1])
async def test_a_connection_the_server_ended_is_replaced_before_use(
    postgres_url: str, pool: CountedPool, clock: Clock, idle: float
) -> None:
    """Idle or just returned: the server's goodbye on its socket gets it checked."""
    pid = await backend_pid(pool)
    await terminate(postgres_url, pid)
    clock.now += idle
    assert await backend_pid(pool) != pid
    assert pool.pings == 1


async def test_the_queue_autocommits_on_checked_connections_and_survives_a_lost_one(
    postgres_url: str,
) -> None:
    app = make_app(postgres_url, pool_size=1)
    await app.open_async()
    try:
        pool = app.connector.pool  # type: ignore[attr-defined]
        assert isinstance(pool, CheckedPool)
        async with pool.connection() as conn:
            assert conn.autocommit
            row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
            assert row is not None
        await terminate(postgres_url, row[0])
        # procrastinate's next query gets a new connection, not the error
        version = await app.connector.execute_query_one_async("SELECT version() AS v")
        assert version["v"].startswith("PostgreSQL")
    finally:
        await app.close_async()
