"""The seed flows: a synchronous article flow and an in-memory review loop.

Progress goes to the job's queue from worker threads with `call_soon_threadsafe` (the
seed called `put_nowait` from the thread, which is not thread-safe; the baseline fixes
that rather than measure a race). Every message carries `ts`, its emission time, so the
benchmark can measure event latency.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from pocketflow import AsyncFlow, AsyncNode, BatchNode, Flow, Node

from bench.fake_llm import ANSWER
from flows.article import OUTLINE_SCHEMA
from tests.fakes.openai_server import minimal_instance


def send(shared: dict[str, Any], step: str, progress: int, **data: Any) -> None:
    """Put a progress message on the job's queue (from any thread)."""
    message = {"step": step, "progress": progress, "data": data, "ts": time.time()}
    shared["loop"].call_soon_threadsafe(shared["queue"].put_nowait, message)


def ask(latency: float, prompt: str, schema: dict[str, Any] | None = None) -> str:
    """The seed's blocking `call_llm`, against the same fixed-latency fake as GenFlow."""
    time.sleep(latency)
    return json.dumps(minimal_instance(schema)) if schema is not None else ANSWER


class GenerateOutline(Node):
    def prep(self, shared: dict[str, Any]) -> tuple[float, str]:
        return shared["latency"], shared["topic"]

    def exec(self, inputs: tuple[float, str]) -> dict[str, Any]:
        latency, topic = inputs
        prompt = f"Write an outline for a short article about: {topic}. Answer in JSON."
        return json.loads(ask(latency, prompt, OUTLINE_SCHEMA))

    def post(self, shared: dict[str, Any], prep_res: Any, outline: dict[str, Any]) -> str:
        shared["sections"] = [s["title"] for s in outline["sections"]]
        send(shared, "outline", 33, sections=shared["sections"])
        return "default"


class WriteContent(BatchNode):
    """One model call per section, one after the other (PocketFlow's `BatchNode`)."""

    def prep(self, shared: dict[str, Any]) -> list[tuple[dict[str, Any], int, str]]:
        return [(shared, i, title) for i, title in enumerate(shared["sections"])]

    def exec(self, item: tuple[dict[str, Any], int, str]) -> str:
        shared, index, title = item
        text = ask(shared["latency"], f"Write one paragraph for the section '{title}'.")
        total = len(shared["sections"])
        send(
            shared,
            "content",
            33 + (index + 1) * 33 // total,
            section=title,
            completed_sections=index + 1,
            total_sections=total,
        )
        return f"## {title}\n\n{text}\n"

    def post(self, shared: dict[str, Any], prep_res: Any, texts: list[str]) -> str:
        shared["draft"] = "\n".join(texts)
        return "default"


class ApplyStyle(Node):
    def prep(self, shared: dict[str, Any]) -> tuple[float, str]:
        return shared["latency"], shared["draft"]

    def exec(self, inputs: tuple[float, str]) -> str:
        latency, draft = inputs
        return ask(latency, f"Rewrite this draft in a conversational style:\n\n{draft}")

    def post(self, shared: dict[str, Any], prep_res: Any, article: str) -> str:
        shared["final_article"] = article
        send(shared, "complete", 100, final_article=article)
        return "default"


def article_flow() -> Flow:
    outline, content, style = GenerateOutline(), WriteContent(), ApplyStyle()
    outline >> content >> style
    return Flow(start=outline)


class Process(AsyncNode):
    async def prep_async(self, shared: dict[str, Any]) -> str:
        return shared["task"]

    async def exec_async(self, task: str) -> str:
        await asyncio.sleep(self.params["latency"])  # the same fake model, awaited
        return ANSWER

    async def post_async(self, shared: dict[str, Any], task: str, output: str) -> str:
        shared["output"] = output
        return "default"


class Review(AsyncNode):
    """Waits in memory (an asyncio.Event) until /feedback sets the decision."""

    async def prep_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        shared["event"].clear()
        await shared["queue"].put(
            {
                "step": "waiting_for_review",
                "progress": 50,
                "data": {"output": shared["output"]},
                "ts": time.time(),
            }
        )
        return shared

    async def exec_async(self, shared: dict[str, Any]) -> str:
        shared["waiting"] = True
        await shared["event"].wait()
        shared["waiting"] = False
        return shared["decision"]

    async def post_async(self, shared: dict[str, Any], prep_res: Any, decision: str) -> str:
        return decision


class Result(AsyncNode):
    async def post_async(self, shared: dict[str, Any], prep_res: Any, exec_res: Any) -> str:
        await shared["queue"].put(
            {
                "step": "complete",
                "progress": 100,
                "data": {"output": shared["output"]},
                "ts": time.time(),
            }
        )
        return "default"


def review_flow(latency: float) -> AsyncFlow:
    process, review, result = Process(), Review(), Result()
    process >> review
    review - "reject" >> process
    review - "approve" >> result
    flow = AsyncFlow(start=process)
    flow.set_params({"latency": latency})
    return flow
