"""PostgreSQL autocommit connections kept checked out between calls.

A runner's checkpoint, its events and every read are one statement each in autocommit
(`pg_append.py`). Checking a connection out of SQLAlchemy's pool and back in around each
one - the pool's bookkeeping, a new `Connection`, its autocommit option set and reset -
cost more CPU than the statement: about 250 of 550 µs a call in a worker
(docs/performance.md). So connections that were just used stay out, ready, up to `keep`
of them, the way the SQLite writer keeps its one connection.

The pool stays in charge of what it is good at. A kept connection that sat unused longer
than `idle_seconds`, or that the server sent something meanwhile (how PostgreSQL ends a
session it kills), goes back to the pool instead of being used, and the pool's own
checkout (with `PrePing`) hands out a live one. A connection that failed is never kept.
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

from backend.store.pre_ping import IDLE_PING_SECONDS, PrePing

T = TypeVar("T")


class KeptConnections:
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
        self._idle: list[tuple[AsyncConnection, float]] = []  # (connection, kept since)
        # Connections are bound to the loop that opened them: another loop (a test's,
        # a second `asyncio.run`) runs its calls on connections of its own, not kept.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work` on a kept connection (or a new one), in autocommit. At most `keep` run
        at once: the others wait for one of theirs rather than for the pool, whose
        checkout each would pay again."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop, self._slots = loop, asyncio.Semaphore(self.keep)
        if loop is not self._loop or self._slots is None:
            async with self.engine.connect() as conn:
                return await conn.run_sync(work)
        async with self._slots:
            conn = await self._take()
            try:
                result = await conn.run_sync(work)
            except BaseException:
                await asyncio.shield(conn.close())  # even when the caller was cancelled
                raise
            if conn.invalidated:
                await conn.close()
            else:
                self._idle.append((conn, self.clock()))
            return result

    async def _take(self) -> AsyncConnection:
        while self._idle:
            conn, since = self._idle.pop()
            if self.clock() - since <= self.idle_seconds and not self._has_input(conn):
                return conn
            await conn.close()  # the pool checks it on its next checkout
        return await self.engine.connect()

    def _has_input(self, conn: AsyncConnection) -> bool:
        raw: Any = conn.sync_connection.connection if conn.sync_connection else None
        return raw is None or self.pre_ping.has_input(raw)

    async def close(self) -> None:
        """Back to the pool, which the store disposes of next."""
        idle, self._idle = self._idle, []
        if asyncio.get_running_loop() is self._loop:
            for conn, _ in idle:
                await conn.close()
