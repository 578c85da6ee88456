"""The SQLite writer: one thread, one kept connection, and the writes queued together
committed together.

SQLite has one writer at a time, so every write runs on this one thread, in the order it
was queued. In a burst (1,000 article jobs that all checkpoint at about the same time)
hundreds of writes wait in its queue, and each paid for its own COMMIT (the WAL append of
every page it touched), its own BEGIN and COMMIT through SQLAlchemy and its own hand-off
to the event loop; a job's next write then waited behind all of them, up to half a second
(docs/performance.md, "Group commit"). So the thread takes every write that is queued
when it is free (at most `MAX_GROUP`), runs each in its own SAVEPOINT inside one
transaction, commits once, and hands all the results back in one call to the loop.

Each write stays all-or-nothing on its own: one that raises is rolled back to its
savepoint and its caller gets the error; the others commit. No result is handed back
before the commit, so nothing is published before it is durable. If the group fails as
a whole (the COMMIT refused, the connection lost, a write that left the transaction
unusable), none of it was committed: each of its writes then runs again alone, in its own
transaction, exactly as a single write does, so every caller gets its own result or error
and no write is applied twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from queue import Empty
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from backend.store.thread_lane import Item, ThreadLane, settle

T = TypeVar("T")
Outcome = tuple[Any, BaseException | None]  # a result, or the error raised
MAX_GROUP = 128  # writes in one transaction: the first waits for at most this many
_SAVEPOINT = "genflow_write"


class _Write(Generic[T]):
    """A write: work on the writer's connection, inside a transaction."""

    __slots__ = ("work",)

    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work

    def __call__(self, conn: Connection) -> T:
        return self.work(conn)


class GroupCommit(ThreadLane):
    """The writer thread (a one-thread `ThreadLane` whose writes are grouped)."""

    def __init__(self, connect: Callable[[], Connection], name: str = "genflow-db-write") -> None:
        super().__init__(name)
        self._connect = connect
        self._conn: Connection | None = None

    def write(self, work: Callable[[Connection], T]) -> asyncio.Future[T]:
        """Run `work(connection)` in a transaction of its own, or in a savepoint of the
        group's; the future gets its result once that is committed (or its error)."""
        return self.run(_Write(work))

    def close_connection(self) -> None:
        """Queue closing the kept connection (after every write queued before)."""
        self.call(self._close)

    # -- on the writer thread ------------------------------------------------------------

    def _serve(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < MAX_GROUP:
                try:
                    more = self._queue.get_nowait()
                except Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(batch)

    def _run_batch(self, batch: list[Item]) -> None:
        writes: list[Item] = []
        for item in batch:
            _, future, work = item
            if future is not None and future.cancelled():
                continue  # cancelled before it started: skipped, as an executor would
            if isinstance(work, _Write):
                writes.append(item)
                continue
            self._run_group(writes)  # what came before it, first
            writes = []
            self._settle([item], [_outcome(work)])
        self._run_group(writes)

    def _run_group(self, writes: list[Item]) -> None:
        if not writes:
            return
        if len(writes) > 1:
            try:
                outcomes = self._grouped([work for _, _, work in writes])
            except BaseException:  # nothing committed: each alone, as if never grouped
                self._after_failure()
            else:
                self._settle(writes, outcomes)
                return
        self._settle(writes, [_outcome(lambda w=work: self._alone(w)) for _, _, work in writes])

    def _grouped(self, writes: list[Callable[[Connection], Any]]) -> list[Outcome]:
        conn = self._connection()
        outcomes: list[Outcome] = []
        with conn.begin():  # pysqlite begins lazily: say BEGIN, so savepoints nest in it
            raw = conn.connection.dbapi_connection
            assert raw is not None
            if not raw.in_transaction:
                raw.execute("BEGIN")
            for write in writes:
                raw.execute(f"SAVEPOINT {_SAVEPOINT}")
                try:
                    result = write(conn)
                except Exception as exc:
                    if conn.invalidated or not raw.in_transaction:
                        raise  # SQLite rolled the whole transaction back: the group is lost
                    raw.execute(f"ROLLBACK TO {_SAVEPOINT}")
                    raw.execute(f"RELEASE {_SAVEPOINT}")
                    outcomes.append((None, exc))
                else:
                    raw.execute(f"RELEASE {_SAVEPOINT}")
                    outcomes.append((result, None))
        return outcomes

    def _alone(self, write: Callable[[Connection], T]) -> T:
        conn = self._connection()
        try:
            with conn.begin():
                return write(conn)
        except BaseException:
            self._after_failure()
            raise

    def _connection(self) -> Connection:
        """One connection kept open for all writes: a write is BEGIN, statements, COMMIT,
        with no pool checkout, reset and check-in around it."""
        conn = self._conn
        if conn is None or conn.invalidated or conn.closed:
            conn = self._conn = self._connect()
        return conn

    def _after_failure(self) -> None:
        """Leave nothing of a failed transaction on the kept connection. SQLAlchemy does
        not roll back after a COMMIT that raised, and SQLite may keep that transaction
        open (a busy or full database): the next write would otherwise go on inside it
        and commit the failed one's changes with its own. If the database went away,
        reconnect on the next write."""
        conn = self._conn
        if conn is None:
            return
        if not conn.invalidated:
            try:
                raw = conn.connection.dbapi_connection
                if raw is not None and raw.in_transaction:
                    raw.rollback()
                return
            except Exception:  # it cannot even roll back: start again with a new one
                conn.invalidate()
        conn.close()
        self._conn = None

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _settle(self, items: list[Item], outcomes: list[Outcome]) -> None:
        """Every caller's outcome, one hand-off per event loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for (loop, future, _), (result, exc) in zip(items, outcomes, strict=True):
            if loop is not None and future is not None:
                by_loop.setdefault(loop, []).append((future, result, exc))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass


def _outcome(work: Callable[[], Any]) -> Outcome:
    try:
        return work(), None
    except BaseException as exc:  # handed to the caller, like an executor does
        return None, exc


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, exc in settled:
        settle(future, result, exc)
