"""The per-provider call limit: bounded, fair (FIFO), and adaptive to 429 / Retry-After.

Calls are fake backends held on asyncio.Events; time is a fake clock whose sleeps end
when the test says so. Nothing here waits on the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from flows.llm import DEFAULT_SAMPLING, Completion, Message, Sampling
from flows.providers.call_limit import CallLimit, report_throttled, retry_after
from flows.providers.limited import LimitedLLM, ceiling


class HeldLLM:
    """Each call announces itself on `started` and answers when its gate opens."""

    name = "held"

    def __init__(self) -> None:
        self.started: asyncio.Queue[int] = asyncio.Queue()
        self.gates: dict[int, asyncio.Event] = {}
        self.throttle: dict[int, float | None] = {}  # call -> Retry-After it reports
        self.in_flight = 0
        self.most = 0

    async def generate(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
        sampling: Sampling = DEFAULT_SAMPLING,
    ) -> Completion:
        call = int(messages[0]["content"])
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        gate = self.gates.setdefault(call, asyncio.Event())
        self.started.put_nowait(call)
        try:
            await gate.wait()
            if call in self.throttle:  # a 429, then the SDK's retry succeeded
                report_throttled(self.throttle[call])  # what the openai client hook does
        finally:
            self.in_flight -= 1
        return Completion(text=str(call), model="held", tokens_in=1, tokens_out=1)

    def release(self, call: int) -> None:
        self.gates.setdefault(call, asyncio.Event()).set()


class FakeTime:
    """A clock that moves only when told to, and sleeps that end when time reaches them."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.sleeping = asyncio.Event()
        self._moved = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        self.sleeps.append(seconds)
        self.sleeping.set()
        while self.now < until:
            self._moved.clear()
            await self._moved.wait()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self._moved.set()


def ask(llm: LimitedLLM, call: int) -> asyncio.Task[Completion]:
    return asyncio.create_task(llm.generate([{"role": "user", "content": str(call)}]))


def limited(limit: int | None, time: FakeTime | None = None) -> tuple[LimitedLLM, HeldLLM]:
    held = HeldLLM()
    fake = time or FakeTime()
    return LimitedLLM(held, CallLimit(limit, clock=fake.clock, sleep=fake.sleep)), held


async def test_at_most_the_limit_is_in_flight_and_callers_go_in_order() -> None:
    llm, held = limited(2)
    calls = [ask(llm, i) for i in range(5)]
    order = [await held.started.get(), await held.started.get()]
    assert (llm.limit.in_flight, llm.limit.waiting) == (2, 3)
    for call in range(5):
        held.release(call)
        if len(order) < 5:
            order.append(await held.started.get())
    assert [c.text for c in await asyncio.gather(*calls)] == ["0", "1", "2", "3", "4"]
    assert order == [0, 1, 2, 3, 4]  # first to ask, first to go
    assert held.most == 2
    assert (llm.limit.in_flight, llm.limit.waiting) == (0, 0)


async def test_a_429_halves_the_limit_and_holds_new_calls_until_retry_after() -> None:
    time = FakeTime()
    llm, held = limited(4, time)
    held.throttle[3] = 2.0  # one of 4 calls in flight gets a 429 with Retry-After: 2
    calls = [ask(llm, i) for i in range(4)]
    for _ in range(4):
        await held.started.get()
    held.release(3)
    await calls[3]
    assert llm.limit.limit == 2  # half of the 4 in flight
    for call in range(3):
        held.release(call)
    await asyncio.gather(*calls)
    assert llm.limit.limit == 2  # calls from before the 429 do not grow it back

    later = ask(llm, 4)  # room for it (0 of 2 in flight), but the Retry-After still runs
    await time.sleeping.wait()
    assert time.sleeps == [2.0]
    assert held.started.empty() and llm.limit.waiting == 1
    time.advance(2.0)
    assert await held.started.get() == 4
    held.release(4)
    await later


async def test_429s_of_one_round_halve_the_limit_once() -> None:
    llm, held = limited(8)
    held.throttle.update({0: 0.0, 1: 0.0, 2: 0.0})  # three calls out at once, three 429s
    calls = [ask(llm, i) for i in range(4)]
    for _ in range(4):
        await held.started.get()
    for call in range(4):
        held.release(call)
        await calls[call]
    assert llm.limit.throttles == 3
    assert llm.limit.limit == 2  # half of the 4 in flight at the first; the others add nothing


async def test_successes_grow_the_limit_back_to_its_ceiling() -> None:
    time = FakeTime()
    llm, held = limited(4, time)
    held.throttle[3] = 1.0
    calls = [ask(llm, i) for i in range(4)]
    for _ in range(4):
        await held.started.get()
    for call in (3, 0, 1, 2):
        held.release(call)
    await asyncio.gather(*calls)
    limits = [llm.limit.limit]
    time.advance(1.0)
    for call in range(10, 20):
        held.release(call)
        await ask(llm, call)
        await held.started.get()
        limits.append(llm.limit.limit)
    assert limits[0] == 2 and limits[-1] == 4  # one more per round of successful calls
    assert limits == sorted(limits) and max(limits) == 4  # never past the ceiling


async def test_a_cancelled_waiter_leaves_the_line_without_taking_a_slot() -> None:
    llm, held = limited(1)
    running, gone, next_ = ask(llm, 0), ask(llm, 1), ask(llm, 2)
    assert await held.started.get() == 0
    assert llm.limit.waiting == 2
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    held.release(0)
    assert await held.started.get() == 2
    held.release(2)
    await asyncio.gather(running, next_)
    assert (llm.limit.in_flight, llm.limit.waiting) == (0, 0)


async def test_no_ceiling_still_learns_from_a_429() -> None:
    llm, held = limited(None)
    held.throttle[5] = 0.0
    calls = [ask(llm, i) for i in range(6)]
    for _ in range(6):
        await held.started.get()
    assert llm.limit.limit is None
    for call in (5, 0, 1, 2, 3, 4):
        held.release(call)
    await asyncio.gather(*calls)
    assert llm.limit.limit == 3  # half of the 6 in flight


def test_the_configured_ceiling_wins_over_the_backend_figure() -> None:
    class Pooled:
        max_concurrency = 1000

    assert ceiling(Pooled(), None) == 1000
    assert ceiling(Pooled(), 16) == 16
    assert ceiling(Pooled(), 0) is None  # 0: no fixed ceiling
    assert ceiling(object(), None) is None


def test_retry_after_reads_milliseconds_seconds_and_dates() -> None:
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    assert retry_after({}) is None
