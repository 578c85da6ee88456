"""The `openai` LLM backend: the official SDK, so any OpenAI-compatible server works.

Reads OPENAI_API_KEY and OPENAI_BASE_URL like the SDK does. Transient failures (429,
5xx, timeouts, dropped connections) are retried by the SDK with exponential backoff;
what is left is translated into `LLMError` with a message a person can act on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import openai

from flows.llm import Completion, LLMError, Message

MAX_RETRIES = 4


def translate(exc: openai.OpenAIError) -> LLMError:
    if isinstance(exc, openai.APITimeoutError):
        return LLMError("the model server timed out (after retries)")
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(f"cannot reach the model server: {exc}")
    if isinstance(exc, openai.AuthenticationError):
        return LLMError("the model server rejected the API key (check OPENAI_API_KEY)")
    if isinstance(exc, openai.RateLimitError):
        return LLMError("the model server is rate limiting us (still 429 after retries)")
    if isinstance(exc, openai.APIStatusError):
        return LLMError(f"the model server answered {exc.status_code}: {_reason(exc)}")
    return LLMError(f"model call failed: {exc}")


def _reason(exc: openai.APIStatusError) -> str:
    """The server's own error message ("Rate limit reached ..."), not the SDK's wrapping
    of it ("Error code: 429 - {...}"), when the body has one."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    return exc.message


def make_client(timeout: float) -> openai.AsyncOpenAI:
    """The SDK client both backends use; OPENAI_BASE_URL is read by the SDK itself."""
    return openai.AsyncOpenAI(
        api_key=os.environ.get("OPENAI_API_KEY") or "not-needed",
        timeout=timeout,
        max_retries=MAX_RETRIES,
    )


class OpenAILLM:
    name = "openai"

    def __init__(self, *, model: str, timeout: float = 120.0, client: Any = None) -> None:
        self.model = model
        self.client = client or make_client(timeout)

    async def generate(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> Completion:
        try:
            if schema is not None:
                return await self._structured(messages, schema)
            if on_delta is not None:
                return await self._streamed(messages, on_delta)
            response = await self.client.chat.completions.create(
                model=self.model, messages=messages
            )
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        return self._completion(response)

    async def _structured(self, messages: list[Message], schema: dict[str, Any]) -> Completion:
        response = await self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema},
            },
        )
        return self._completion(response)

    async def _streamed(
        self, messages: list[Message], on_delta: Callable[[str], None]
    ) -> Completion:
        parts: list[str] = []
        usage = None
        stream = await self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                text = choice.delta.content if choice.delta else None
                if text:
                    parts.append(text)
                    on_delta(text)
        text = "".join(parts)
        return Completion(
            text=text,
            model=self.model,
            tokens_in=usage.prompt_tokens if usage else _estimate(messages),
            tokens_out=usage.completion_tokens if usage else max(1, len(text) // 4),
        )

    def _completion(self, response: Any) -> Completion:
        text = (response.choices[0].message.content or "") if response.choices else ""
        usage = response.usage
        return Completion(
            text=text,
            model=response.model or self.model,
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
        )


def _estimate(messages: list[Message]) -> int:
    return max(1, sum(len(m["content"]) for m in messages) // 4)
