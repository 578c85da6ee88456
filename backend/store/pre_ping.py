"""Pinging pooled PostgreSQL connections only when they may be dead.

SQLAlchemy's `pool_pre_ping` pings every connection on every checkout: in a busy worker
that was a third of its commits (docs/performance.md, scale_out). A connection is pinged
here only if it sat in the pool long enough for a restart or an idle timeout to have
killed it unseen, or if the server sent it something while it sat there: in the store's
SQLAlchemy pool (`PrePing`) and in procrastinate's psycopg_pool (`CheckedPool`).
"""

from __future__ import annotations

import select as io_select
import time
import weakref
from collections.abc import Callable
from typing import Any

import psycopg
import psycopg_pool
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.pool import ConnectionPoolEntry, Pool

# A PostgreSQL connection back in the pool for longer than this is pinged before use. A
# busy worker takes its connections back within milliseconds, and pinging each of those
# was a third of its commits (docs/performance.md); one left idle is the one a server
# restart or an idle timeout can have killed unseen. A second is far longer than a
# call's own gap between connections and far shorter than any such outage.
IDLE_PING_SECONDS = 1.0


class PrePing:
    """Pool events: a connection is pinged on checkout only if it may be dead - it sat
    in the pool longer than `idle_seconds`, or the server sent it something while it sat
    there (PostgreSQL ends a session it kills, by a restart or pg_terminate_backend, with
    an error message and then the end of the stream; a poll sees that without a round
    trip). A connection just opened, or returned moments ago with nothing to read, is
    used at once. A failed ping invalidates the whole pool, as `pool_pre_ping` does: the
    pool opens a new connection for this checkout, and replaces every older one on its
    next checkout."""

    def __init__(
        self,
        dialect: Dialect,
        clock: Callable[[], float] = time.monotonic,
        idle_seconds: float = IDLE_PING_SECONDS,
    ) -> None:
        self.dialect = dialect
        self.clock = clock
        self.idle_seconds = idle_seconds

    def listen(self, pool: Pool) -> None:
        sa_event.listen(pool, "checkin", self.checked_in)
        sa_event.listen(pool, "checkout", self.checked_out)

    def checked_in(self, _dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # A connection kept out of the pool (kept_connections.py) has been idle since then.
        record.info[_RETURNED_AT] = record.info.pop(IDLE_SINCE, None) or self.clock()

    def checked_out(self, dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)  # none for a new connection: its info is new
        if returned is None:
            return
        if self.clock() - returned > self.idle_seconds or self.has_input(dbapi_connection):
            self.ping(dbapi_connection)

    def has_input(self, dbapi_connection: Any) -> bool:
        """Whether an idle connection's socket has something to read (True when it cannot
        be looked at: then the ping decides)."""
        try:
            fd = dbapi_connection.driver_connection.fileno()
        except (AttributeError, OSError, self.dialect.loaded_dbapi.Error):
            return True
        return _readable(fd)

    def ping(self, dbapi_connection: Any) -> None:
        """The dialect's ping; a lost connection raises the error that makes the pool
        invalidate itself and retry with a new connection."""
        dialect = self.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError(f"ping failed: {exc}") from exc
            raise


class CheckedPool(psycopg_pool.AsyncConnectionPool):
    """The same rule for a psycopg_pool pool (procrastinate's). procrastinate sets
    psycopg_pool's own `check`, an empty query on every checkout: a round trip before
    each of its one-statement queries. Here a connection is checked only if it sat in
    the pool longer than `idle_seconds` or has something to read; a failed check makes
    the pool replace it before the caller gets it. (The return is noted in `putconn`, not
    in a `reset` callback: with one, psycopg_pool hands every return to a worker task.)"""

    def __init__(
        self,
        *args: Any,
        clock: Callable[[], float] = time.monotonic,
        idle_seconds: float = IDLE_PING_SECONDS,
        **options: Any,
    ) -> None:
        self.clock = clock
        self.idle_seconds = idle_seconds
        self._returned: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        super().__init__(*args, **{**options, "check": self._check_if_stale})

    async def putconn(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._returned[conn] = self.clock()
        await super().putconn(conn)

    async def _check_if_stale(self, conn: psycopg.AsyncConnection[Any]) -> None:
        returned = self._returned.pop(conn, None)  # none for a new connection: used at once
        if returned is None:
            return
        if self.clock() - returned > self.idle_seconds or _has_input(conn):
            await self.ping(conn)

    async def ping(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """psycopg_pool's check; a lost connection raises, and the pool replaces it."""
        await self.check_connection(conn)


def _has_input(conn: psycopg.AsyncConnection[Any]) -> bool:
    try:
        fd = conn.fileno()
    except (OSError, psycopg.Error):
        return True
    return _readable(fd)


def _readable(fd: int) -> bool:
    """Whether the socket has something to read, without waiting (True where it cannot be
    looked at, as on Windows: then the ping decides)."""
    if not hasattr(io_select, "poll"):
        return True
    poller = io_select.poll()
    poller.register(fd, io_select.POLLIN)
    return bool(poller.poll(0))


_RETURNED_AT = "genflow_returned_at"  # PrePing's key in a pool entry's `info`
IDLE_SINCE = "genflow_idle_since"  # set by whoever returns a connection idle since then
