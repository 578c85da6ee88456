"""PostgreSQL only: which pooled connections are pinged before use.

The store's SQLAlchemy pool (`PrePing`) and procrastinate's psycopg_pool (`CheckedPool`,
which `make_app` builds) follow one rule, checked here on both: a connection returned
moments ago is used at once; one idle past IDLE_PING_SECONDS, or one the server ended
while it sat in the pool, is pinged, and a dead one is replaced before the call uses it.
The clock is injected: no test waits for time to pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.psycopg import PGDialectAsync_psycopg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.runtime.queues.procrastinate_queue import make_app
from backend.store.migrate import conninfo
from backend.store.pre_ping import IDLE_PING_SECONDS, CheckedPool, PrePing
from backend.store.sqlalchemy import SQLStore
from tests.backend.test_store import created, new_job


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Pooled:
    """One pool of one connection (every call takes the same one back), either kind."""

    backend_pid: Callable[[], Awaitable[int]]  # a call through the pool
    pings: Callable[[], int]


class CountedPing(PrePing):
    pings = 0

    def ping(self, dbapi_connection: Any) -> None:
        self.pings += 1
        super().ping(dbapi_connection)


class CountedPool(CheckedPool):
    pings = 0

    async def ping(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.pings += 1
        await super().ping(conn)


def counted_pings(engine: AsyncEngine, clock: Clock) -> CountedPing:
    pinger = CountedPing(engine.sync_engine.dialect, clock=clock)
    pinger.listen(engine.sync_engine.pool)
    return pinger


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """One pooled connection, so every call takes the same one back."""
    engine = create_async_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


@pytest.fixture
def pinger(engine: AsyncEngine, clock: Clock) -> CountedPing:
    """For the store's own pool (test_store_kept_connections.py uses it too)."""
    return counted_pings(engine, clock)


@pytest.fixture(params=["sqlalchemy", "psycopg_pool"])
async def pooled(
    request: pytest.FixtureRequest, postgres_url: str, clock: Clock, engine: AsyncEngine
) -> AsyncIterator[Pooled]:
    if request.param == "sqlalchemy":
        pinger = counted_pings(engine, clock)

        async def engine_pid() -> int:
            async with engine.connect() as conn:
                return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()

        yield Pooled(engine_pid, lambda: pinger.pings)
        return
    pool = CountedPool(conninfo(postgres_url), min_size=1, max_size=1, open=False, clock=clock)
    await pool.open(wait=True)

    async def pool_pid() -> int:
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
            assert row is not None
            return int(row[0])

    yield Pooled(pool_pid, lambda: pool.pings)
    await pool.close()


def terminate(url: str, pid: int) -> None:
    """What a server restart does to a pooled connection; returns once the backend is
    gone (the timeout form of pg_terminate_backend waits for it)."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s, 10000)", [pid]).fetchone() == (True,)


async def test_a_just_returned_connection_is_not_pinged(pooled: Pooled, clock: Clock) -> None:
    pid = await pooled.backend_pid()  # a new connection: not pinged either
    for _ in range(3):
        clock.now += IDLE_PING_SECONDS * 0.9
        assert await pooled.backend_pid() == pid
    assert pooled.pings() == 0


async def test_an_idle_connection_is_pinged_once_per_idle_spell(
    pooled: Pooled, clock: Clock
) -> None:
    pid = await pooled.backend_pid()
    clock.now += IDLE_PING_SECONDS + 0.1
    assert await pooled.backend_pid() == pid
    assert pooled.pings() == 1
    assert await pooled.backend_pid() == pid
    assert pooled.pings() == 1


@pytest.mark.parametrize("idle", [0.0, IDLE_PING_SECONDS + 0.1])
async def test_a_connection_the_server_ended_is_replaced_before_use(
    postgres_url: str, pooled: Pooled, clock: Clock, idle: float
) -> None:
    """Idle or just returned: the server's goodbye on its socket gets it pinged."""
    pid = await pooled.backend_pid()
    terminate(postgres_url, pid)
    clock.now += idle
    assert await pooled.backend_pid() != pid
    assert pooled.pings() == 1


async def test_the_queue_autocommits_on_a_checked_pool_and_survives_a_lost_connection(
    postgres_url: str,
) -> None:
    """procrastinate's queries are one statement each: no BEGIN and COMMIT around them."""
    app = make_app(postgres_url, pool_size=1)
    await app.open_async()
    try:
        pool = app.connector.pool  # type: ignore[attr-defined]
        assert isinstance(pool, CheckedPool)
        async with pool.connection() as conn:
            assert conn.autocommit
            row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
            assert row is not None
        terminate(postgres_url, row[0])
        # procrastinate's next query gets a new connection, not the error
        version = await app.connector.execute_query_one_async("SELECT version() AS v")
        assert version["v"].startswith("PostgreSQL")
    finally:
        await app.close_async()


async def test_a_busy_store_pings_none_of_its_connections(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted at the dialect, so a ping from anywhere (`pool_pre_ping` too) counts."""
    pings: list[Any] = []
    ping = PGDialectAsync_psycopg.do_ping

    def counted(dialect: Any, dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return ping(dialect, dbapi_connection)

    monkeypatch.setattr(PGDialectAsync_psycopg, "do_ping", counted)
    store = SQLStore(postgres_url)
    try:
        await store.initialize()
        job, _ = await store.create_job(new_job(), created())
        for _ in range(20):
            assert await store.get_job(job.id) is not None
    finally:
        await store.close()
    assert pings == []
