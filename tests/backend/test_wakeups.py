"""WakeUps: a fan-out to many followers is handed out a slice per loop turn, in order,
with other work between slices; and what that buys a LocalBus's followers."""

from __future__ import annotations

import asyncio

from backend.domain import utcnow
from backend.events import Event, EventType
from backend.runtime.bus import LocalBus
from backend.runtime.wakeups import WakeUps


def futures(n: int) -> list[asyncio.Future[None]]:
    loop = asyncio.get_running_loop()
    return [loop.create_future() for _ in range(n)]


def done(waiters: list[asyncio.Future[None]]) -> list[bool]:
    return [w.done() for w in waiters]


async def test_a_slice_per_turn_in_the_order_rung() -> None:
    wakeups, waiters = WakeUps(per_turn=3), futures(7)
    for waiter in waiters:
        wakeups.wake(waiter)
    assert done(waiters) == [True] * 3 + [False] * 4  # this turn's slice: at once
    assert len(wakeups) == 4
    await asyncio.sleep(0)
    assert done(waiters) == [True] * 6 + [False]
    await asyncio.sleep(0)
    assert all(done(waiters)) and len(wakeups) == 0


async def test_work_that_became_ready_runs_between_slices() -> None:
    wakeups, waiters = WakeUps(per_turn=2), futures(6)
    for waiter in waiters:
        wakeups.wake(waiter)
    seen: list[list[bool]] = []
    asyncio.get_running_loop().call_soon(lambda: seen.append(done(waiters)))
    while not all(done(waiters)):
        await asyncio.sleep(0)
    assert seen == [[True] * 4 + [False] * 2]  # ran after the second slice, before the third


async def test_a_waiter_cancelled_while_queued_is_skipped() -> None:
    wakeups, waiters = WakeUps(per_turn=1), futures(3)
    for waiter in waiters:
        wakeups.wake(waiter)
    waiters[1].cancel()
    while len(wakeups):
        await asyncio.sleep(0)
    assert waiters[2].done() and not waiters[2].cancelled()


async def test_after_queued_waits_for_what_was_queued_before_it_only() -> None:
    wakeups, before, after = WakeUps(per_turn=2), futures(6), futures(6)
    for waiter in before:
        wakeups.wake(waiter)
    seen: list[tuple[list[bool], list[bool]]] = []

    async def barrier() -> None:
        await wakeups.after_queued()
        seen.append((done(before), done(after)))

    task = asyncio.create_task(barrier())
    await asyncio.sleep(0)  # the barrier is set behind the first six
    for waiter in after:
        wakeups.wake(waiter)
    await task
    assert len(seen) == 1
    before_done, after_done = seen[0]
    assert all(before_done) and not all(after_done)


async def test_after_queued_returns_at_once_when_nothing_is_queued() -> None:
    wakeups = WakeUps(per_turn=2)
    await asyncio.wait_for(wakeups.after_queued(), 1)


def progress(seq: int) -> Event:
    return Event("job_1", EventType.NODE_PROGRESS, {"n": seq}, utcnow(), 0, seq)


async def test_followers_not_yet_woken_take_later_events_in_the_same_batch() -> None:
    bus = LocalBus(wakeups=WakeUps(per_turn=2))
    subscriptions = [bus.subscribe("job_1") for _ in range(6)]
    readers = [asyncio.create_task(s.get_ready(10)) for s in subscriptions]
    await asyncio.sleep(0)  # every reader waits
    bus.publish([progress(1)])
    await asyncio.sleep(0)  # the first slice has read; the second is woken, not yet run
    bus.publish([progress(2)])
    batches = [seqs(await reader) for reader in readers]
    assert sorted(batches) == [[1], [1], [1, 2], [1, 2], [1, 2], [1, 2]]
    left = [seqs(s.take()) for s in subscriptions]
    assert sorted(left) == [[], [], [], [], [2], [2]]  # the first slice reads 2 next time


def seqs(items: list[object]) -> list[int | None]:
    return [item.seq for item in items if isinstance(item, Event)]
