"""The flow every runner-overhead contender runs: a chain of identical LLM nodes.

Each node does the same work everywhere: one progress report and one call to the fake
model through `flows.llm.complete`; the answer is appended to the shared outputs. The
PocketFlow/GenFlow version is a plain `AsyncFlow`; the LangGraph version wraps the same
`step_work` in a `StateGraph` node.
"""

from __future__ import annotations

import itertools
from typing import Any

from pocketflow import AsyncFlow, AsyncNode

from flows import context
from flows.llm import complete


async def step_work(index: int, topic: str) -> str:
    """What one node does, whoever runs it."""
    context.report(f"step {index}", fraction=None)
    return await complete(f"Step {index} about {topic}", stream=False)


class Step(AsyncNode):
    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index
        self.name = f"step{index}"

    async def prep_async(self, shared: dict[str, Any]) -> str:
        return shared["topic"]

    async def exec_async(self, topic: str) -> str:
        return await step_work(self.index, topic)

    async def post_async(self, shared: dict[str, Any], topic: str, text: str) -> str:
        shared.setdefault("outputs", []).append(text)
        return "default"


def chain_flow(nodes: int) -> AsyncFlow:
    steps = [Step(i) for i in range(nodes)]
    for first, second in itertools.pairwise(steps):
        first >> second
    return AsyncFlow(start=steps[0])
