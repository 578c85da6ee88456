"""The durable runner: threads, retries, batches, checkpoints, cancel, resume."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pocketflow import AsyncFlow, AsyncNode, AsyncParallelBatchNode, BaseNode, BatchNode, Node

from backend.job_view import JobView, fold
from flows import context
from flows.providers.scripted_llm import Reply, ScriptedLLM
from flows.registry import FlowSpec
from tests.harness import running_app

ANY_INPUT: dict[str, Any] = {"type": "object"}


def spec(name: str, build: Any) -> dict[str, FlowSpec]:
    return {
        name: FlowSpec(
            name=name,
            title=name,
            description="test flow",
            input_schema=ANY_INPUT,
            build=lambda _input: build(),
        )
    }


class Finish(AsyncNode):
    async def post_async(self, shared: dict, prep_res: Any, exec_res: Any) -> str:
        shared["result"] = {k: v for k, v in shared.items() if k != "result"}
        return "default"


def then_finish(make: Callable[[], BaseNode]) -> Callable[[], AsyncFlow]:
    """A flow of one node (`make` builds it for each job), then `Finish`."""

    def build() -> AsyncFlow:
        node = make()
        node >> Finish()
        return AsyncFlow(start=node)

    return build


async def test_a_blocking_sync_node_does_not_freeze_the_server(tmp_path: Path) -> None:
    release = threading.Event()

    class Blocking(Node):
        def exec(self, prep_res: Any) -> str:
            context.report("blocking in a thread")
            if not release.wait(timeout=20):  # a plain blocking call, as in many cookbooks
                raise TimeoutError("never released")
            return "released"

        def post(self, shared: dict, prep_res: Any, exec_res: str) -> str:
            shared["value"] = exec_res
            return "default"

    async with running_app(tmp_path, flows=spec("blocking", then_finish(Blocking))) as h:
        job = await h.create("blocking", {})
        while not any(e["type"] == "node.progress" for e in await h.events(job["id"])):
            await asyncio.sleep(0.01)  # the API answers while the node blocks its thread
        health = await h.client.get("/api/health")
        assert health.status_code == 200
        assert (await h.job(job["id"]))["status"] == "running"
        release.set()
        done = await h.wait_for(job["id"])
    assert done["result"] == {"value": "released"}


class Recorder:
    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.calls: list[tuple[int, int]] = []  # (item, cur_retry)


async def test_parallel_batch_respects_its_limit_and_retries_items_separately(
    tmp_path: Path,
) -> None:
    seen = Recorder()

    class Fan(AsyncParallelBatchNode):
        max_concurrency = 3

        async def prep_async(self, shared: dict) -> list[int]:
            return list(range(8))

        async def exec_async(self, item: int) -> int:
            seen.calls.append((item, self.cur_retry))
            seen.running += 1
            seen.most = max(seen.most, seen.running)
            try:
                await asyncio.sleep(0.02)
                if self.cur_retry == 0:
                    raise RuntimeError(f"first try of {item} fails")
                return item * 10
            finally:
                seen.running -= 1

        async def post_async(self, shared: dict, items: list, results: list) -> str:
            shared["values"] = results
            return "default"

    flows = spec("fan", then_finish(lambda: Fan(max_retries=2)))
    async with running_app(tmp_path, flows=flows) as h:
        job = await h.create("fan", {})
        done = await h.wait_for(job["id"])
        events = await h.events(job["id"])
    assert done["result"] == {"values": [i * 10 for i in range(8)]}
    assert seen.most == 3
    assert sorted(seen.calls) == sorted([(i, 0) for i in range(8)] + [(i, 1) for i in range(8)])
    retried = sorted(e["data"]["item"] for e in events if e["type"] == "node.retry")
    assert retried == list(range(8))


async def test_a_crash_mid_batch_reruns_only_unfinished_items(tmp_path: Path) -> None:
    ran: list[int] = []
    gate = asyncio.Event()

    class Fan(AsyncParallelBatchNode):
        max_concurrency = 1

        async def prep_async(self, shared: dict) -> list[int]:
            return [0, 1, 2, 3]

        async def exec_async(self, item: int) -> int:
            if item == 2:
                await gate.wait()  # the "crash" happens while item 2 runs
            ran.append(item)
            return item + 100

        async def post_async(self, shared: dict, items: list, results: list) -> str:
            shared["values"] = results
            return "default"

    flows = spec("fan", then_finish(Fan))
    async with running_app(tmp_path, flows=flows) as h:
        job = await h.create("fan", {})
        # items 0 and 1 are stored (with the node's progress lines), item 2 is running
        while len(await h.services.store.batch_items(job["id"], "Fan#1")) < 2:
            await asyncio.sleep(0.01)
        assert ran == [0, 1]
    # the app stopped with the job running (as after a crash); a new one resumes it
    gate.set()
    ran.clear()
    async with running_app(tmp_path, flows=flows) as h:
        done = await h.wait_for(job["id"])
        events = await h.events(job["id"])
    assert done["result"] == {"values": [100, 101, 102, 103]}
    assert ran == [2, 3]
    started = [e["data"]["attempt"] for e in events if e["type"] == "job.started"]
    assert started == [1, 2]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


async def test_cancel_stops_the_in_flight_model_call(tmp_path: Path) -> None:
    llm = ScriptedLLM([Reply("too late", match="Task:", delay=30)])
    async with running_app(tmp_path, llm) as h:
        job = await h.create("review", {"task": "slow"})
        while not llm.calls:
            await asyncio.sleep(0.01)
        response = await h.client.post(f"/api/jobs/{job['id']}/cancel", headers=h.headers())
        assert response.status_code == 200
        assert (await response.get_json())["status"] == "cancelled"
        await asyncio.sleep(0.1)
        assert h.services.queue.active() == 0  # the task is gone, not sleeping on
        events = await h.events(job["id"])
        assert events[-1]["type"] == "job.cancelled"
        assert events[-1]["data"] == {"by": "alice"}
        assert (await h.job(job["id"]))["status"] == "cancelled"


async def test_exec_fallback_keeps_pocketflow_meaning(tmp_path: Path) -> None:
    class Flaky(AsyncNode):
        async def exec_async(self, prep_res: Any) -> str:
            raise RuntimeError("always")

        async def exec_fallback_async(self, prep_res: Any, exc: Exception) -> str:
            return f"fallback after: {exc}"

        async def post_async(self, shared: dict, prep_res: Any, exec_res: str) -> str:
            shared["value"] = exec_res
            return "default"

    flows = spec("flaky", then_finish(lambda: Flaky(max_retries=3)))
    async with running_app(tmp_path, flows=flows) as h:
        job = await h.create("flaky", {})
        done = await h.wait_for(job["id"])
        events = await h.events(job["id"])
    assert done["result"] == {"value": "fallback after: always"}
    assert [e["data"]["attempt"] for e in events if e["type"] == "node.retry"] == [1, 2]


async def test_a_non_json_shared_store_fails_clearly(tmp_path: Path) -> None:
    class Bad(AsyncNode):
        async def post_async(self, shared: dict, prep_res: Any, exec_res: Any) -> str:
            shared["when"] = object()
            return "default"

    async with running_app(tmp_path, flows=spec("bad", lambda: AsyncFlow(start=Bad()))) as h:
        job = await h.create("bad", {})
        done = await h.wait_for(job["id"])
    assert done["status"] == "failed"
    assert done["error"]["type"] == "SharedNotJSON"
    assert "JSON values only" in done["error"]["message"]


async def test_a_job_whose_flow_changed_fails_with_a_clear_error(tmp_path: Path) -> None:
    llm = ScriptedLLM([Reply("answer", match="Task:")])
    async with running_app(tmp_path, llm) as h:
        job = await h.create("review", {"task": "t"})
        await h.wait_for(job["id"], "waiting_for_review")

    class Other(AsyncNode):
        pass

    async with running_app(
        tmp_path, llm, flows=spec("review", lambda: AsyncFlow(start=Other()))
    ) as h:
        response = await h.decide(job["id"], "approve")
        assert response.status_code == 200
        done = await h.wait_for(job["id"])
    assert done["status"] == "failed"
    assert done["error"]["type"] == "FlowChanged"
    assert "TaskReview" in done["error"]["message"]


async def test_model_text_streams_live_and_is_not_stored(tmp_path: Path) -> None:
    llm = ScriptedLLM([Reply("one two three four", match="Task:", delay=0.2)])
    async with running_app(tmp_path, llm) as h:
        job = await h.create("review", {"task": "t"})
        subscription = h.services.bus.subscribe(job["id"])
        deltas: list[dict] = []
        while True:
            item = await subscription.get(5)
            assert item is not None, "no events"
            if item.type == "llm.delta":
                deltas.append(item.to_json())
            if item.type == "review.requested":
                break
        subscription.close()
        stored = await h.events(job["id"])
    assert "".join(d["data"]["text"] for d in deltas).split() == ["one", "two", "three", "four"]
    assert all(d["seq"] is None and d["data"]["node"] == "Process" for d in deltas)
    assert not any(e["type"] == "llm.delta" for e in stored)


async def test_streamed_text_reaches_followers_before_what_the_node_does_next(
    tmp_path: Path,
) -> None:
    """An answer's last words are not held back behind the retry, report or artifact
    the node records after them (they were, for up to the 100 ms coalescing interval)."""
    subscribed = asyncio.Event()

    class Talker(AsyncNode):
        def __init__(self) -> None:
            super().__init__(max_retries=2)

        async def exec_async(self, prep_res: Any) -> str:
            if self.cur_retry == 0:
                await subscribed.wait()  # live text goes only to who follows at the time
                context.stream("first ")
                context.stream("try")
                raise ValueError("refused")
            context.stream("second try")
            context.report("checked the answer")
            context.stream(", a note")
            await context.save_artifact(b"note", mime="text/plain", kind="text", name="n")
            return "ok"

    async with running_app(tmp_path, flows=spec("talker", then_finish(Talker))) as h:
        job = await h.create("talker", {})
        subscription = h.services.bus.subscribe(job["id"])
        subscribed.set()
        text = ""
        text_before: dict[str, str] = {}  # what a follower had read when each event came
        while True:
            item = await subscription.get(5)
            assert item is not None, "no events"
            if item.type == "llm.delta":
                text += item.data["text"]
            else:
                text_before.setdefault(item.type, text)
            if item.type == "job.completed":
                break
        subscription.close()
    assert text == "first trysecond try, a note"
    assert text_before["node.retry"].startswith("first try")
    assert text_before["node.progress"].startswith("first trysecond try")
    assert text_before["artifact.created"] == "first trysecond try, a note"


async def followed_text(node: str, h: Any, job_id: str, subscribed: threading.Event) -> str:
    """What a watcher shows of `node`'s streamed text once the job ends (the live events
    folded as the web chat, Slack and the CLI fold them)."""
    subscription = h.services.bus.subscribe(job_id)
    subscribed.set()
    view = JobView(job_id)
    while view.status != "completed":
        event = await subscription.get(5)
        assert event is not None, "no events"
        view = fold(view, event.to_json())
    subscription.close()
    step = view.step(node)
    return step.text if step else ""


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel async items", "sync items"])
async def test_a_batch_items_retry_takes_back_its_own_streamed_text_only(
    tmp_path: Path, parallel: bool
) -> None:
    """Each item's streamed text is said to be that item's: when item 1's answer is
    refused, a watcher drops the refused text and keeps items 0 and 2's (it dropped the
    whole step's text)."""
    subscribed = threading.Event()  # live text goes only to who follows at the time
    turn = [asyncio.Event() for _ in range(3)]

    def talk(item: int, cur_retry: int) -> int:
        if item == 1 and cur_retry == 0:
            context.stream("one, refused. ")
            raise ValueError("too short")
        context.stream(f"{item} ")
        return item

    class Parallel(AsyncParallelBatchNode):
        def __init__(self) -> None:
            super().__init__(max_retries=2)

        async def prep_async(self, shared: dict) -> list[int]:
            await asyncio.to_thread(subscribed.wait, 5)
            return [0, 1, 2]

        async def exec_async(self, item: int) -> int:
            if item:
                await turn[item - 1].wait()  # the items stream in their order
            try:
                return talk(item, self.cur_retry)
            finally:
                turn[item].set()

    class Sequential(BatchNode):  # each item in a worker thread
        def __init__(self) -> None:
            super().__init__(max_retries=2)

        def prep(self, shared: dict) -> list[int]:
            subscribed.wait(5)
            return [0, 1, 2]

        def exec(self, item: int) -> int:
            return talk(item, self.cur_retry)

    make = Parallel if parallel else Sequential
    async with running_app(tmp_path, flows=spec("talker", then_finish(make))) as h:
        job = await h.create("talker", {})
        text = await followed_text(make.__name__, h, job["id"], subscribed)
    assert text == "0 1 2 "


async def test_one_flow_object_serves_many_concurrent_jobs(tmp_path: Path) -> None:
    llm = ScriptedLLM([Reply("answer", match="Task:", delay=0.05)])
    async with running_app(tmp_path, llm) as h:
        jobs = [await h.create("review", {"task": f"task {i}"}) for i in range(6)]
        for job in jobs:
            await h.decide(job["id"], "approve")
        results = [await h.wait_for(job["id"]) for job in jobs]
    assert all(r["status"] == "completed" for r in results)
    assert {r["input"]["task"] for r in results} == {f"task {i}" for i in range(6)}


async def test_progress_lines_beyond_the_event_limit_are_dropped_not_the_result(
    tmp_path: Path,
) -> None:
    class Chatty(AsyncNode):
        async def exec_async(self, prep_res: Any) -> None:
            for i in range(50):
                context.report(f"line {i}")

    flows = spec("chatty", then_finish(Chatty))
    async with running_app(tmp_path, flows=flows, max_events_per_job=20) as h:
        job = await h.create("chatty", {})
        done = await h.wait_for(job["id"])
        events = await h.events(job["id"])
    assert done["status"] == "completed"
    assert sum(e["type"] == "node.progress" for e in events) < 50
    assert events[-1]["type"] == "job.completed"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
