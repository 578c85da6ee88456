"""A model whose chosen calls are held open until the test lets each one finish.

Proving that calls overlap, and that text streamed by overlapping calls still reads in
order, needs calls that finish in an order the test picks rather than after a sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from flows.llm import DEFAULT_SAMPLING, Completion, LLMBackend, Message, Sampling


def streamed(answer: str) -> str:
    """The text a watcher sees of `answer`: streamed word by word, as ScriptedLLM does."""
    return "".join(word + " " for word in answer.split(" "))


class GatedLLM:
    """Answers through `inner`, except a call whose prompt contains a key of `gates`:
    it streams the first half of that key's answer, counts as in flight, and waits for
    `release(key)` before it streams the rest and returns. Every call first waits for
    `opened`, so a test can subscribe to a job's events before anything happens."""

    name = "gated"

    def __init__(self, inner: LLMBackend, gates: dict[str, str]) -> None:
        self.inner, self.gates = inner, gates
        self.opened = asyncio.Event()
        self.all_in_flight = asyncio.Event()  # every gated call is waiting at once
        self.in_flight: set[str] = set()
        self._released = {key: asyncio.Event() for key in gates}
        self._returned = {key: asyncio.Event() for key in gates}

    def release(self, key: str) -> None:
        self._released[key].set()

    async def returned(self, key: str) -> None:
        await self._returned[key].wait()

    async def generate(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
        sampling: Sampling = DEFAULT_SAMPLING,
    ) -> Completion:
        await self.opened.wait()
        prompt = messages[-1]["content"]
        key = next((k for k in self.gates if k in prompt), None)
        if key is None:
            return await self.inner.generate(
                messages, schema=schema, on_delta=on_delta, sampling=sampling
            )
        answer = self.gates[key]
        words = [word + " " for word in answer.split(" ")]
        half = len(words) // 2
        self.in_flight.add(key)
        if self.in_flight == set(self.gates):
            self.all_in_flight.set()
        try:
            for word in words[:half]:
                if on_delta is not None:
                    on_delta(word)
            await self._released[key].wait()
            for word in words[half:]:
                if on_delta is not None:
                    on_delta(word)
        finally:
            self.in_flight.discard(key)
        self._returned[key].set()
        return Completion(text=answer, model="gated", tokens_in=len(prompt) // 4, tokens_out=8)
