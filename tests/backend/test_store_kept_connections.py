"""PostgreSQL only: autocommit connections kept checked out between calls.

Back-to-back calls reuse a kept connection without the pool's checkout; one kept too
long, one the server ended, or one a call failed on goes back to the pool, and no call
fails for it. The clock is injected: no test waits for time to pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.store.kept_connections import KeptConnections
from backend.store.pre_ping import IDLE_PING_SECONDS
from tests.backend.test_store_pool_ping import Clock, CountedPing, clock, pinger, terminate

__all__ = ["clock", "pinger"]  # fixtures: the pool-ping suite's clock and counted pings


class Checkouts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine.pool, "checkout", self.seen)

    def seen(self, *_: object) -> None:
        self.count += 1


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """In autocommit, as the store's kept connections are (the pool-ping suite's is not)."""
    engine = create_async_engine(postgres_url, pool_size=4, max_overflow=0)
    yield engine.execution_options(isolation_level="AUTOCOMMIT")
    await engine.dispose()


@pytest.fixture
async def kept(
    engine: AsyncEngine, pinger: CountedPing, clock: Clock
) -> AsyncIterator[KeptConnections]:
    kept = KeptConnections(engine, pinger, keep=2, clock=clock)
    yield kept
    await kept.close()


def backend_pid(conn: Connection) -> int:
    return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def in_transaction(conn: Connection) -> bool:
    """Whether the session has a transaction open after the statement: never in
    autocommit."""
    conn.execute(text("SELECT 1"))
    return conn.connection.driver_connection.info.transaction_status != 0  # IDLE


async def test_back_to_back_calls_share_one_connection_without_a_checkout(
    engine: AsyncEngine, kept: KeptConnections
) -> None:
    first = await kept.run(backend_pid)
    checkouts = Checkouts(engine)
    assert [await kept.run(backend_pid) for _ in range(5)] == [first] * 5
    assert checkouts.count == 0
    assert await kept.run(in_transaction) is False


async def test_at_most_keep_run_at_once_and_the_rest_wait_for_them(
    engine: AsyncEngine, kept: KeptConnections
) -> None:
    def slow_pid(conn: Connection) -> int:
        return conn.execute(text("SELECT pg_backend_pid() FROM pg_sleep(0.05)")).scalar_one()

    checkouts = Checkouts(engine)
    pids = await asyncio.gather(*(kept.run(slow_pid) for _ in range(6)))
    assert len(set(pids)) == 2  # six calls, two connections: none taken from the pool again
    assert checkouts.count == 2
    assert engine.sync_engine.pool.checkedout() == 2  # the rest of the pool is free


async def test_a_connection_kept_too_long_goes_back_to_the_pool_which_pings_it(
    engine: AsyncEngine, kept: KeptConnections, pinger: CountedPing, clock: Clock
) -> None:
    await kept.run(backend_pid)
    checkouts = Checkouts(engine)
    clock.now += IDLE_PING_SECONDS + 1
    await kept.run(backend_pid)
    assert checkouts.count == 1  # through the pool: the same connection, idle so long...
    assert pinger.pings == 1  # ... is pinged before use, as one idle in the pool would be
    await kept.run(backend_pid)
    assert (checkouts.count, pinger.pings) == (1, 1)  # and kept again


async def test_a_burst_s_connections_go_back_while_one_stays_busy(
    engine: AsyncEngine, kept: KeptConnections, clock: Clock
) -> None:
    def slow_pid(conn: Connection) -> int:
        return conn.execute(text("SELECT pg_backend_pid() FROM pg_sleep(0.05)")).scalar_one()

    await asyncio.gather(*(kept.run(slow_pid) for _ in range(2)))
    assert engine.sync_engine.pool.checkedout() == 2
    clock.now += IDLE_PING_SECONDS / 2
    await kept.run(backend_pid)  # the newest, used again
    clock.now += IDLE_PING_SECONDS / 2 + 0.1
    await kept.run(backend_pid)
    assert engine.sync_engine.pool.checkedout() == 1  # the other one went back


async def test_a_connection_the_server_ended_is_replaced_before_use(
    postgres_url: str, kept: KeptConnections
) -> None:
    pid = await kept.run(backend_pid)
    terminate(postgres_url, pid)
    assert await kept.run(backend_pid) != pid  # the call itself does not fail


async def test_a_failed_call_does_not_keep_its_connection(
    engine: AsyncEngine, kept: KeptConnections
) -> None:
    await kept.run(backend_pid)

    def broken(conn: Connection) -> None:
        conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(ProgrammingError):
        await kept.run(broken)
    checkouts = Checkouts(engine)
    assert await kept.run(in_transaction) is False
    assert checkouts.count == 1  # it went back to the pool, which reset it
