"""An in-process fake model with a fixed latency, for the in-process benchmarks.

It implements `flows.llm.LLMBackend`: every call sleeps `latency` seconds and answers a
short text, or a minimal valid instance when a schema is asked for. Nothing is recorded,
so thousands of calls cost no memory.

`ArticleLLM` answers the article flow as a competent model would (an outline about the
topic, paragraphs long enough, a rewrite that keeps the text), so that an article takes
its shortest path - one call per step, no repairs - and a benchmark of it measures the
flow's critical path rather than its quality checks rejecting a fake's answers.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

from flows.llm import DEFAULT_SAMPLING, Completion, Message, Sampling
from tests.fakes.article_answers import article_answer
from tests.fakes.openai_server import minimal_instance

ANSWER = "A short answer from the fake model."


class FixedLatencyLLM:
    name = "fake"

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls = 0

    async def generate(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
        sampling: Sampling = DEFAULT_SAMPLING,
    ) -> Completion:
        self.calls += 1
        await asyncio.sleep(self.latency)
        text = self.answer(messages[-1]["content"], schema)
        if on_delta is not None:
            on_delta(text)
        return Completion(text=text, model="fake", tokens_in=8, tokens_out=8)

    def answer(self, prompt: str, schema: dict[str, Any] | None) -> str:
        return json.dumps(minimal_instance(schema)) if schema is not None else ANSWER


class ArticleLLM(FixedLatencyLLM):
    """Answers the article flow's prompts so that each step passes its checks first time."""

    def answer(self, prompt: str, schema: dict[str, Any] | None) -> str:
        return article_answer(prompt, schema)


def use_in(module: Any, builder: str) -> None:
    """Make `module.builder` (`create_app` of a server, `build_services` of a worker)
    default to the fixed-latency model (GENFLOW_BENCH_LLM_LATENCY seconds), so the
    benchmarked process runs exactly its real code path with only the model replaced.
    GENFLOW_BENCH_LLM_ANSWERS=article picks `ArticleLLM`."""
    latency = float(os.environ.get("GENFLOW_BENCH_LLM_LATENCY", "0.2"))
    kind = (
        ArticleLLM if os.environ.get("GENFLOW_BENCH_LLM_ANSWERS") == "article" else FixedLatencyLLM
    )
    real = getattr(module, builder)

    def with_fake_model(settings: Any, **parts: Any) -> Any:
        parts.setdefault("llm_backend", kind(latency))
        return real(settings, **parts)

    setattr(module, builder, with_fake_model)
