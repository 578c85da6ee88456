"""PostgreSQL autocommit connections kept checked out between calls.

A runner's checkpoint, its events and every read are one statement each in autocommit
(`pg_append.py`). Checking a connection out of SQLAlchemy's pool and back in around each
one - the pool's bookkeeping, a new `Connection`, its autocommit option set and reset -
cost more CPU than the statement: about 250 of 550 µs a call in a worker
(docs/performance.md). So connections that were just used stay out, ready, up to `keep`
of them, the way the SQLite writer keeps its one connection.

The pool stays in charge of what it is good at. A kept connection that sat unused longer
than `idle_seconds`, or that the server sent something meanwhile (how PostgreSQL ends a
session it kills), goes back to the pool instead of being used - marked idle since it was
last used, so the pool's checkout pings it (`PrePing`) - and the pool hands out a live
one. A connection that failed is never kept.
The pool's size still bounds every connection of the process; keeping fewer than it holds
leaves room for the calls that need a transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backend.store.pre_ping import IDLE_PING_SECONDS, IDLE_SINCE, PrePing

T = TypeVar("T")


class KeptConnections:
    """Up to `keep` autocommit connections of `engine`, kept out of its pool between calls
    and shared by every call of one event loop."""

    def __init__(
        self,
        engine: AsyncEngine,
        pre_ping: PrePing,
        *,
        keep: int,
        idle_seconds: float = IDLE_PING_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.pre_ping, self.keep = engine, pre_ping, keep
        self.idle_seconds, self.clock = idle_seconds, clock
        self._idle: list[tuple[AsyncConnection, float]] = []  # oldest first: (conn, idle since)
        # Connections are bound to the loop that opened them: another loop (a test's,
        # a second `asyncio.run`) runs its calls on connections of its own, not kept.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work` on a kept connection (or a new one), in autocommit. At most `keep` run
        at once: the others wait for one of theirs rather than for the pool, whose
        checkout each would pay again."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop, self._slots = loop, asyncio.Semaphore(self.keep)
        if loop is not self._loop or self._slots is None or self._closed:
            async with self.engine.connect() as conn:
                return await conn.run_sync(work)
        async with self._slots:
            conn = await self._take()
            try:
                result = await conn.run_sync(work)
            except BaseException:
                await asyncio.shield(conn.close())  # even when the caller was cancelled
                raise
            if conn.invalidated or self._closed:
                await conn.close()
            else:
                self._idle.append((conn, self.clock()))
                await self._return_stale()
            return result

    async def _take(self) -> AsyncConnection:
        while self._idle:
            conn, since = self._idle.pop()
            if self.clock() - since <= self.idle_seconds and not self._has_input(conn):
                return conn
            await self._return(conn, since)
        return await self.engine.connect()

    async def _return_stale(self) -> None:
        """Those unused for `idle_seconds` go back to the pool, so a burst's connections
        do not stay out (and away from transactions) behind one that is kept busy."""
        while self._idle and self.clock() - self._idle[0][1] > self.idle_seconds:
            await self._return(*self._idle.pop(0))

    async def _return(self, conn: AsyncConnection, since: float) -> None:
        """Into the pool, idle since `since` as far as `PrePing` is concerned: its next
        checkout pings it if that was long enough ago."""
        pooled = _pooled(conn)
        if pooled is not None:
            pooled.info[IDLE_SINCE] = since
        await conn.close()

    def _has_input(self, conn: AsyncConnection) -> bool:
        pooled = _pooled(conn)
        return pooled is None or self.pre_ping.has_input(pooled)

    async def close(self) -> None:
        """Back to the pool, which the store disposes of next; a call still running
        returns its connection there too."""
        self._closed = True
        idle, self._idle = self._idle, []
        if asyncio.get_running_loop() is self._loop:
            for conn, _ in idle:
                await conn.close()


def _pooled(conn: AsyncConnection) -> Any:
    """The pool's proxy of the driver connection (its `info` is the pool entry's)."""
    return conn.sync_connection.connection if conn.sync_connection else None
