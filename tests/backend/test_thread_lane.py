"""Thread lanes: in order on one thread, results and errors back to the loop, clean shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest

from backend.store.thread_lane import ThreadLane


async def test_work_runs_in_order_on_one_thread_and_results_come_back() -> None:
    writes = ThreadLane("test-write")
    threads: set[int] = set()
    done: list[int] = []

    def work(i: int) -> int:
        threads.add(threading.get_ident())
        done.append(i)
        return i * 2

    results = await asyncio.gather(*(writes.run(lambda i=i: work(i)) for i in range(50)))
    writes.shutdown()
    assert results == [i * 2 for i in range(50)]
    assert done == list(range(50))
    assert len(threads) == 1 and threading.get_ident() not in threads


async def test_an_error_is_raised_to_the_caller_and_the_thread_goes_on() -> None:
    writes = ThreadLane("test-write")

    def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await writes.run(fail)
    assert await writes.run(lambda: 7) == 7
    writes.shutdown()


async def test_work_cancelled_before_it_starts_is_skipped() -> None:
    writes = ThreadLane("test-write")
    release = threading.Event()
    ran: list[str] = []
    blocker = writes.run(lambda: release.wait(10))  # holds the thread
    skipped = writes.run(lambda: ran.append("skipped"))
    skipped.cancel()
    release.set()
    assert await blocker is True
    assert await writes.run(lambda: ran.append("after")) is None
    writes.shutdown()
    assert ran == ["after"]


async def test_shutdown_runs_what_is_queued_then_refuses_more() -> None:
    writes = ThreadLane("test-write")
    ran: list[int] = []
    for i in range(5):
        writes.call(lambda i=i: ran.append(i))
    await asyncio.to_thread(writes.shutdown)
    assert ran == list(range(5))
    with pytest.raises(RuntimeError):
        writes.run(lambda: None)


async def test_a_lane_of_several_threads_runs_work_side_by_side() -> None:
    readers = ThreadLane("test-read", 3)
    together = threading.Barrier(3, timeout=10)  # passes only if all three run at once
    threads: set[int] = set()

    def work() -> str:
        threads.add(threading.get_ident())
        together.wait()
        return "read"

    assert await asyncio.gather(*(readers.run(work) for _ in range(3))) == ["read"] * 3
    assert len(threads) == 3
    await asyncio.to_thread(readers.shutdown)
    with pytest.raises(RuntimeError):
        readers.run(lambda: None)
