"""Parallel batch items stream in item order (flows/ordered_stream.py): the earliest
unended lane is live, later ones are held until it ends, and lanes that never start
hold nobody up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pocketflow import AsyncFlow, AsyncParallelBatchNode

from backend.runtime.execute import execute_node
from flows import context
from flows.context import DetachedContext
from flows.ordered_stream import OrderedStream


class Rejected(ValueError):
    pass


class Item:
    """One batch item's try, driven by the test: it streams `head`, says it got there,
    waits for `go`, streams `tail`, then succeeds or fails."""

    def __init__(self, order: OrderedStream, lane: int, head: str, tail: str) -> None:
        self.order, self.lane, self.head, self.tail = order, lane, head, tail
        self.reached = asyncio.Event()
        self.go = asyncio.Event()

    async def attempt(self, *, fail: bool = False) -> str:
        with self.order.attempt(self.lane):
            context.stream(self.head)
            self.reached.set()
            await self.go.wait()
            context.stream(self.tail)
            if fail:
                raise Rejected(f"lane {self.lane} refused")
            return self.tail

    def start(self, *, fail: bool = False) -> asyncio.Task[str]:
        self.reached.clear()
        self.go.clear()
        return asyncio.create_task(self.attempt(fail=fail))


def lanes(count: int) -> tuple[DetachedContext, OrderedStream]:
    target = DetachedContext()
    return target, OrderedStream(count, target)


def seen(target: DetachedContext) -> str:
    return "".join(target.streamed)


async def test_lanes_that_finish_out_of_order_are_sent_in_lane_order() -> None:
    target, order = lanes(3)
    items = [Item(order, i, f"<h{i}>", f"<b{i}>") for i in range(3)]
    tasks = [item.start() for item in items]
    await asyncio.gather(*(item.reached.wait() for item in items))
    assert seen(target) == "<h0>"  # lane 0 is live, lanes 1 and 2 are held
    for i in (2, 1):
        items[i].go.set()
        await tasks[i]
        assert seen(target) == "<h0>"
    items[0].go.set()
    await tasks[0]
    assert seen(target) == "<h0><b0><h1><b1><h2><b2>"


class ByItem(DetachedContext):
    """Keeps which batch item each piece of text was sent as."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[int | None] = []

    def stream(self, text: str, item: int | None = None) -> None:
        super().stream(text, item)
        self.items.append(item)


async def test_text_is_sent_as_its_lanes_item_also_when_another_lane_releases_it() -> None:
    """Lane 1's held text goes out when lane 0 ends, from lane 0's task: it is still
    item 1's (a watcher drops it if item 1 is tried again, not if item 0 is)."""
    target = ByItem()
    order = OrderedStream(2, target)
    first, second = Item(order, 0, "<h0>", "<b0>"), Item(order, 1, "<h1>", "<b1>")
    tasks = [first.start(), second.start()]
    await asyncio.gather(first.reached.wait(), second.reached.wait())
    second.go.set()
    await tasks[1]
    first.go.set()
    await tasks[0]
    assert list(zip(target.items, target.streamed, strict=True)) == [
        (0, "<h0>"),
        (0, "<b0>"),
        (1, "<h1><b1>"),
    ]


async def test_the_next_running_lane_goes_live_when_the_live_one_ends() -> None:
    target, order = lanes(2)
    first, second = Item(order, 0, "<h0>", "<b0>"), Item(order, 1, "<h1>", "<b1>")
    tasks = [first.start(), second.start()]
    await asyncio.gather(first.reached.wait(), second.reached.wait())
    first.go.set()
    await tasks[0]
    assert seen(target) == "<h0><b0><h1>"  # lane 1's text so far, then it streams live
    before = target.streamed[:]
    second.go.set()
    await tasks[1]
    assert target.streamed == [*before, "<b1>"]


async def test_a_failing_lane_lets_the_next_lanes_through() -> None:
    target, order = lanes(2)
    first, second = Item(order, 0, "<h0>", "<b0>"), Item(order, 1, "<h1>", "<b1>")
    tasks = [first.start(fail=True), second.start()]
    await asyncio.gather(first.reached.wait(), second.reached.wait())
    second.go.set()
    await tasks[1]
    first.go.set()
    with pytest.raises(Rejected):
        await tasks[0]
    assert seen(target) == "<h0><b0>"  # a failed try leaves its lane open for what follows
    with pytest.raises(Rejected), order.fallback(0):
        raise Rejected("the fallback gives up too")  # ... and the fallback ends it
    assert seen(target) == "<h0><b0><h1><b1>"


async def held_lane_failed() -> tuple[DetachedContext, OrderedStream, Item, Item, Any]:
    """Lane 0 streams (its head is out), lane 1 is held and its try fails; lane 0 has
    not ended: its task is returned."""
    target, order = lanes(2)
    first, second = Item(order, 0, "<h0>", "<b0>"), Item(order, 1, "<h1>", "<bad1>")
    tasks = [first.start(), second.start(fail=True)]
    await asyncio.gather(first.reached.wait(), second.reached.wait())
    second.go.set()
    with pytest.raises(Rejected):
        await tasks[1]
    return target, order, first, second, tasks[0]


async def test_a_held_lanes_failed_try_never_goes_out_even_if_the_lane_goes_live() -> None:
    """Item 1 fails while item 0 streams; item 0 ends before item 1's retry starts (a
    retry after an error waits): the failed try would have gone out after its retry."""
    target, _, first, second, streaming = await held_lane_failed()
    first.go.set()
    await streaming
    assert seen(target) == "<h0><b0>"
    second.tail = "<good1>"
    retry = second.start()
    second.go.set()
    await retry
    assert seen(target) == "<h0><b0><h1><good1>"


async def test_a_held_lane_retried_shows_only_its_last_try_a_live_one_both() -> None:
    target, order = lanes(2)
    first, second = Item(order, 0, "<h0>", "<bad0>"), Item(order, 1, "<h1>", "<bad1>")
    tasks = [first.start(fail=True), second.start(fail=True)]
    await asyncio.gather(first.reached.wait(), second.reached.wait())
    first.go.set()
    second.go.set()
    for task in tasks:
        with pytest.raises(Rejected):
            await task
    first.tail, second.tail = "<good0>", "<good1>"
    retries = [first.start(), second.start()]
    await asyncio.gather(first.reached.wait(), second.reached.wait())
    second.go.set()
    await retries[1]
    first.go.set()
    await retries[0]
    # lane 0 was live: its refused try was seen, and its retry follows it (as in a
    # sequential batch); lane 1's refused try was held, seen by nobody, and is dropped
    assert seen(target) == "<h0><bad0><h0><good0><h1><good1>"


async def test_the_fallback_adds_to_the_last_try_of_a_held_lane() -> None:
    target, order, first, _, streaming = await held_lane_failed()
    with order.fallback(1):
        context.stream("<kept1>")
    assert seen(target) == "<h0>"
    first.go.set()
    await streaming
    assert seen(target) == "<h0><b0><h1><bad1><kept1>"


async def test_lanes_that_never_start_hold_nobody_up() -> None:
    target, order = lanes(3)  # lane 0 was finished before a crash: it never runs here
    second, third = Item(order, 1, "<h1>", "<b1>"), Item(order, 2, "<h2>", "<b2>")
    tasks = [second.start(), third.start()]
    await asyncio.gather(second.reached.wait(), third.reached.wait())
    assert seen(target) == "<h1>"  # lane 1 is live at once
    third.go.set()
    await tasks[1]
    second.go.set()
    await tasks[0]
    assert seen(target) == "<h1><b1><h2><b2>"


async def test_a_lane_in_the_middle_that_never_starts_is_passed_over() -> None:
    target, order = lanes(3)
    first, third = Item(order, 0, "<h0>", "<b0>"), Item(order, 2, "<h2>", "<b2>")
    tasks = [first.start(), third.start()]
    await asyncio.gather(first.reached.wait(), third.reached.wait())
    first.go.set()
    await tasks[0]
    assert seen(target) == "<h0><b0><h2>"
    third.go.set()
    await tasks[1]
    assert seen(target) == "<h0><b0><h2><b2>"


async def test_a_lane_waiting_for_its_turn_is_not_passed_over() -> None:
    """Under a concurrency limit lane 1 starts only after lane 0 ends; nothing after
    it has started, so it is next, not skipped."""
    target, order = lanes(3)
    first = Item(order, 0, "<h0>", "<b0>")
    task = first.start()
    await first.reached.wait()
    first.go.set()
    await task
    second = Item(order, 1, "<h1>", "<b1>")
    task = second.start()
    await second.reached.wait()
    assert seen(target) == "<h0><b0><h1>"  # live, not held


async def test_close_sends_what_is_still_held_in_lane_order() -> None:
    target, order = lanes(3)
    items = [Item(order, i, f"<h{i}>", f"<b{i}>") for i in range(3)]
    tasks = [item.start() for item in items]
    await asyncio.gather(*(item.reached.wait() for item in items))
    tasks[0].cancel()  # lane 0 never ends (its task was cancelled)
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    for i in (2, 1):
        items[i].go.set()
        await tasks[i]
    assert seen(target) == "<h0>"
    order.close()
    assert seen(target) == "<h0><h1><b1><h2><b2>"
    with order.attempt(0):
        context.stream("<late>")  # after close: straight through
    assert seen(target).endswith("<late>")


async def test_a_lane_passes_everything_but_its_text_to_the_job_context() -> None:
    target, order = lanes(1)
    target.decisions.append({"decision": "approve"})
    outside = context.current()
    with order.attempt(0):
        assert context.current() is not outside
        context.report("working", 0.5, section="b")
        context.current().record_usage("m", 3, 4)
        artifact = await context.save_artifact(b"x", mime="text/plain", kind="text")
        decision = await context.current().decide("Gate", {})
        context.stream("<b0>")
    assert target.reports == [("working", 0.5, {"section": "b"})]
    assert target.usage == [("m", 3, 4)] and artifact in target.artifacts
    assert decision == {"decision": "approve"}
    assert target.streamed == ["<b0>"]
    assert context.current() is outside  # the lane's binding ends with it


class Reverse(AsyncParallelBatchNode):
    """Items that finish last to first, under plain PocketFlow."""

    async def prep_async(self, shared: dict[str, Any]) -> list[int]:
        self.lanes = OrderedStream(3)
        self.gates = [asyncio.Event() for _ in range(3)]
        return [0, 1, 2]

    async def exec_async(self, item: int) -> int:
        with self.lanes.attempt(item):
            context.stream(f"<h{item}>")
            if item < 2:
                await self.gates[item].wait()
            context.stream(f"<b{item}>")
        if item > 0:
            self.gates[item - 1].set()
        return item

    async def post_async(self, shared: dict[str, Any], items: Any, results: list[int]) -> str:
        self.lanes.close()
        shared["results"] = results
        return "default"


async def test_a_detached_context_gets_the_text_in_order_under_plain_pocketflow() -> None:
    detached = DetachedContext()
    shared: dict[str, Any] = {}
    with context.bind(detached):
        await AsyncFlow(start=Reverse()).run_async(shared)
    assert shared["results"] == [0, 1, 2]
    assert "".join(detached.streamed) == "<h0><b0><h1><b1><h2><b2>"


class Limited(AsyncParallelBatchNode):
    """Five items, two at a time, each held until the test lets it finish."""

    max_concurrency = 2

    def __init__(self, reached: list[asyncio.Event], go: list[asyncio.Event]) -> None:
        super().__init__()
        self.reached, self.go = reached, go

    async def prep_async(self, shared: dict[str, Any]) -> list[int]:
        self.lanes = OrderedStream(5)
        return list(range(5))

    async def exec_async(self, item: int) -> int:
        with self.lanes.attempt(item):
            context.stream(f"<h{item}>")
            self.reached[item].set()
            await self.go[item].wait()
            context.stream(f"<b{item}>")
        return item

    async def post_async(self, shared: dict[str, Any], items: Any, results: list[int]) -> str:
        self.lanes.close()
        return "default"


async def test_under_the_runners_concurrency_limit_lanes_wait_their_turn() -> None:
    """The runner starts items first come, first served as slots free up, so a lane
    not started yet is next in line, not passed over."""
    reached = [asyncio.Event() for _ in range(5)]
    go = [asyncio.Event() for _ in range(5)]

    class Batch:
        async def load(self) -> dict[int, Any]:
            return {}

        async def save(self, index: int, value: Any) -> None:
            pass

        def item_done(self, done: int, total: int) -> None:
            pass

    async def on_retry(attempt: int, exc: BaseException, index: int | None) -> None:
        raise AssertionError(exc)

    detached = DetachedContext()
    with context.bind(detached):
        run = asyncio.create_task(
            execute_node(Limited(reached, go), {}, on_retry=on_retry, batch=Batch(), concurrency=5)
        )
        # 1 finishes first, then 0; 3 before 2; each wait says who holds a slot
        for finish, then_running in ((1, 2), (0, 3), (3, 4), (2, None), (4, None)):
            await asyncio.wait_for(reached[finish].wait(), 10)
            go[finish].set()
            if then_running is not None:
                await asyncio.wait_for(reached[then_running].wait(), 10)
        await asyncio.wait_for(run, 10)
    assert "".join(detached.streamed) == "".join(f"<h{i}><b{i}>" for i in range(5))
