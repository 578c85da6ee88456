"""Threads that run blocking database work, handing each result to the event loop.

`loop.run_in_executor` on a `ThreadPoolExecutor` chains two futures across the threads
and takes a semaphore and a condition per call; under load, with every thread wanting
the GIL, the event loop then waits on those locks behind the worker threads (a py-spy
profile of a 1,000-job burst showed a quarter of the API's request time in the
executor's `Semaphore.acquire`, docs/performance.md). A lane is a `SimpleQueue` and
one `call_soon_threadsafe` per call: about half the cost per hop. A few threads run the
SQLite reads; the one writer thread is a lane too, whose writes are grouped
(`group_commit.py`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")
# A queued call: the loop and future to hand its outcome to (none for `call`), and the work
# (`GroupCommit` queues its writes, which take the connection, here too).
Item = tuple[asyncio.AbstractEventLoop | None, asyncio.Future[Any] | None, Callable[..., Any]]


class ThreadLane:
    """`threads` threads taking work from one queue; with one thread, work runs in the
    order it was queued."""

    def __init__(self, name: str, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError("a lane needs at least one thread")
        self._name, self._size = name, threads
        self._queue: SimpleQueue[Item | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def run(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """Queue `work`; the future gets its result or exception. Cancelling the future
        before the work starts skips it (as an executor would)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put((loop, future, work))
        return future

    def call(self, work: Callable[[], object]) -> None:
        """Queue `work` with no one waiting for it (on a one-thread lane: after every
        call queued before)."""
        self._put((None, None, work))

    def shutdown(self) -> None:
        """Run what is queued, then stop the threads (blocks until they have)."""
        with self._lock:
            self._stopped = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join()

    def _put(self, item: Item) -> None:
        with self._lock:
            if self._stopped:
                raise RuntimeError("cannot schedule new work after shutdown")
            if not self._threads:
                # Daemons, so a store nobody closed cannot hold the interpreter open; an
                # interrupted transaction is rolled back by SQLite.
                for index in range(self._size):
                    name = self._name if self._size == 1 else f"{self._name}-{index}"
                    thread = threading.Thread(target=self._serve, name=name, daemon=True)
                    thread.start()
                    self._threads.append(thread)
        self._queue.put(item)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            loop, future, work = item
            if future is not None and future.cancelled():
                continue
            try:
                result = work()
            except BaseException as exc:  # handed to the caller, like an executor does
                _hand(loop, future, None, exc)
            else:
                _hand(loop, future, result, None)


def _hand(
    loop: asyncio.AbstractEventLoop | None,
    future: asyncio.Future[Any] | None,
    result: Any,
    exc: BaseException | None,
) -> None:
    if loop is None or future is None:
        return
    try:
        loop.call_soon_threadsafe(settle, future, result, exc)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass


def settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # cancelled meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
