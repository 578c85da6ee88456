"""LLM and image backends whose calls go through their provider's `CallLimit`.

Wrapping the backend (rather than each flow's calls) puts every flow's model calls behind
one limit per provider; the wrapper is otherwise the backend itself (`name`, and any
other attribute, read through).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flows.images import ImageBackend
from flows.llm import DEFAULT_SAMPLING, Completion, LLMBackend, Message, Sampling
from flows.providers.call_limit import CallLimit


def ceiling(backend: object, configured: int | None) -> int | None:
    """The limit to use: the configured one (0: none), else the backend's own figure
    (`max_concurrency`, e.g. the openai SDK's connection pool), else none."""
    if configured is not None:
        return configured if configured > 0 else None
    return getattr(backend, "max_concurrency", None)


class LimitedLLM:
    def __init__(self, inner: LLMBackend, limit: CallLimit) -> None:
        self.inner = inner
        self.limit = limit
        self.name = inner.name

    async def generate(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
        sampling: Sampling = DEFAULT_SAMPLING,
    ) -> Completion:
        async with self.limit.slot():
            return await self.inner.generate(
                messages, schema=schema, on_delta=on_delta, sampling=sampling
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LimitedImages:
    def __init__(self, inner: ImageBackend, limit: CallLimit) -> None:
        self.inner = inner
        self.limit = limit
        self.name = inner.name

    async def generate(self, prompt: str, *, size: str, attempt: int) -> tuple[bytes, str]:
        async with self.limit.slot():
            return await self.inner.generate(prompt, size=size, attempt=attempt)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def limited_llm(backend: LLMBackend, configured: int | None) -> LimitedLLM:
    return LimitedLLM(backend, CallLimit(ceiling(backend, configured), name=f"llm:{backend.name}"))


def limited_images(backend: ImageBackend, configured: int | None) -> LimitedImages:
    limit = CallLimit(ceiling(backend, configured), name=f"images:{backend.name}")
    return LimitedImages(backend, limit)
