"""The one thread that runs SQLite writes, in order, handing each result to the event loop.

`loop.run_in_executor` on a one-thread `ThreadPoolExecutor` does the same with two
futures chained across the threads (a lock, a condition and callbacks both ways per
call); this is a queue and one `call_soon_threadsafe`: about half the cost per hop,
measured (docs/performance.md), and a runner's checkpoint waits for one every node.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")
_Item = tuple[asyncio.AbstractEventLoop | None, asyncio.Future[Any] | None, Callable[[], Any]]


class WriteThread:
    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: SimpleQueue[_Item | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def run(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """Queue `work`; the future gets its result or exception. Cancelling the future
        before the work starts skips it (as an executor would)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put((loop, future, work))
        return future

    def call(self, work: Callable[[], object]) -> None:
        """Queue `work` with no one waiting for it (after every write queued before)."""
        self._put((None, None, work))

    def shutdown(self) -> None:
        """Run what is queued, then stop the thread (blocks until it has)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _put(self, item: _Item) -> None:
        with self._lock:
            if self._stopped:
                raise RuntimeError("cannot schedule new writes after shutdown")
            if self._thread is None:
                # A daemon, so a store nobody closed cannot hold the interpreter open; an
                # interrupted transaction is rolled back by SQLite.
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
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
        loop.call_soon_threadsafe(_settle, future, result, exc)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # cancelled meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
