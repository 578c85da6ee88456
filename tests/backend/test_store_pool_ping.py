"""PostgreSQL only: which pooled connections are pinged before use (`PrePing`).

A connection returned moments ago is used at once; one idle past IDLE_PING_SECONDS, or
one the server ended while it sat in the pool, is pinged, and a dead one is replaced
before the call uses it. The clock is injected: no test waits for time to pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.psycopg import PGDialectAsync_psycopg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.store.migrate import conninfo
from backend.store.pre_ping import IDLE_PING_SECONDS, PrePing
from backend.store.sqlalchemy import SQLStore
from tests.backend.test_store import created, new_job


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountedPing(PrePing):
    pings = 0

    def ping(self, dbapi_connection: Any) -> None:
        self.pings += 1
        super().ping(dbapi_connection)


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """One pooled connection, so every call takes the same one back."""
    engine = create_async_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pinger(engine: AsyncEngine, clock: Clock) -> CountedPing:
    pinger = CountedPing(engine.sync_engine.dialect, clock=clock)
    pinger.listen(engine.sync_engine.pool)
    return pinger


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()


def terminate(url: str, pid: int) -> None:
    """What a server restart does to a pooled connection; returns once the backend is
    gone (the timeout form of pg_terminate_backend waits for it)."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s, 10000)", [pid]).fetchone() == (True,)


async def test_a_just_returned_connection_is_not_pinged(
    engine: AsyncEngine, clock: Clock, pinger: CountedPing
) -> None:
    pid = await backend_pid(engine)  # a new connection: not pinged either
    for _ in range(3):
        clock.now += IDLE_PING_SECONDS * 0.9
        assert await backend_pid(engine) == pid
    assert pinger.pings == 0


async def test_an_idle_connection_is_pinged_once_per_idle_spell(
    engine: AsyncEngine, clock: Clock, pinger: CountedPing
) -> None:
    pid = await backend_pid(engine)
    clock.now += IDLE_PING_SECONDS + 0.1
    assert await backend_pid(engine) == pid
    assert pinger.pings == 1
    assert await backend_pid(engine) == pid
    assert pinger.pings == 1


@pytest.mark.parametrize("idle", [0.0, IDLE_PING_SECONDS + 0.1])
async def test_a_connection_the_server_ended_is_replaced_before_use(
    postgres_url: str, engine: AsyncEngine, clock: Clock, pinger: CountedPing, idle: float
) -> None:
    """Idle or just returned: the server's goodbye on its socket gets it pinged."""
    pid = await backend_pid(engine)
    terminate(postgres_url, pid)
    clock.now += idle
    assert await backend_pid(engine) != pid
    assert pinger.pings == 1


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
