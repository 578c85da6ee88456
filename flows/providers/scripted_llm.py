"""The `scripted` LLM backend, for tests: replays prepared answers.

A rule answers the first call whose prompt contains `match` (or any call, if `match`
is None); a rule with `times` is used that many times and then skipped. An answer may
be text, a JSON value (sent as JSON text), or an exception to raise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.llm import DEFAULT_SAMPLING, Completion, LLMError, Message, Sampling


@dataclass
class Reply:
    answer: Any
    match: str | None = None
    times: int | None = None
    delay: float = 0.0
    used: int = field(default=0, compare=False)

    def applies_to(self, prompt: str) -> bool:
        exhausted = self.times is not None and self.used >= self.times
        return not exhausted and (self.match is None or self.match in prompt)


class ScriptedLLM:
    name = "scripted"

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.calls: list[list[Message]] = []
        self.samplings: list[Sampling] = []

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedLLM:
        rules = json.loads(Path(path).read_text())
        return cls([Reply(**rule) for rule in rules])

    def prompts(self) -> list[str]:
        return [call[-1]["content"] for call in self.calls]

    async def generate(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
        sampling: Sampling = DEFAULT_SAMPLING,
    ) -> Completion:
        self.calls.append(list(messages))
        self.samplings.append(sampling)
        prompt = "\n".join(m["content"] for m in messages)
        reply = next((r for r in self.replies if r.applies_to(prompt)), None)
        if reply is None:
            raise LLMError(f"scripted LLM has no answer for: {prompt[:80]!r}")
        reply.used += 1
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if isinstance(reply.answer, BaseException):
            raise reply.answer
        text = reply.answer if isinstance(reply.answer, str) else json.dumps(reply.answer)
        if on_delta is not None:
            for word in text.split(" "):
                on_delta(word + " ")
        return Completion(
            text=text, model="scripted", tokens_in=len(prompt) // 4, tokens_out=len(text) // 4
        )
