"""Pinging pooled PostgreSQL connections only when they may be dead.

SQLAlchemy's `pool_pre_ping` pings every connection on every checkout: in a busy worker
that was a third of its commits (docs/performance.md, scale_out). A connection is pinged
here only if it sat in the pool long enough for a restart or an idle timeout to have
killed it unseen, or if the server sent it something while it sat there.
"""

from __future__ import annotations

import select as io_select
import time
from collections.abc import Callable
from typing import Any

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
        if not hasattr(io_select, "poll"):  # not on Windows
            return True
        try:
            fd = dbapi_connection.driver_connection.fileno()
        except (AttributeError, OSError, self.dialect.loaded_dbapi.Error):
            return True
        poller = io_select.poll()
        poller.register(fd, io_select.POLLIN)
        return bool(poller.poll(0))

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


_RETURNED_AT = "genflow_returned_at"  # PrePing's key in a pool entry's `info`
IDLE_SINCE = "genflow_idle_since"  # set by whoever returns a connection idle since then
