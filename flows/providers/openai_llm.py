"""The `openai` LLM backend: the official SDK, so any OpenAI-compatible server works.

Reads OPENAI_API_KEY and OPENAI_BASE_URL like the SDK does. Transient failures (429,
5xx, timeouts, dropped connections) are retried by the SDK with exponential backoff;
what is left is translated into `LLMError` with a message a person can act on. So is an
answer that is not one (an HTML page, invalid JSON) and one that does not end within
`timeout` seconds (the SDK's timeout is per read: a trickle of tokens never hits it).
Structured output degrades from `json_schema` to `json_object` to a prompted schema on
servers that refuse it (`structured_modes`). The SDK sends every request; the answers'
bodies are read here as plain JSON (`chat_stream` for streamed ones), not through the
SDK's models, which cost ~100 µs per streamed chunk.

Every 429 the client receives - the ones the SDK then retries by itself included - is
reported to the provider's call limit (`call_limit.report_throttled`, with its
Retry-After), which lowers the calls in flight and holds new ones back meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import ssl
from collections.abc import Callable
from typing import Any

import openai

from flows.llm import DEFAULT_SAMPLING, Completion, LLMError, Message, Sampling
from flows.providers import call_limit, structured_modes
from flows.providers.chat_stream import read_chat_stream
from flows.providers.server_answers import (
    BadAnswer,
    chat_answer,
    decode_json,
    excerpt,
    html_summary,
    looks_like_html,
)
from flows.providers.structured_modes import MODES, Mode

MAX_RETRIES = 4
RETRY_DELAY = 0.5  # the SDK's backoff, for probes retried here (see `_send`)
MAX_RETRY_DELAY = 8.0
# The SDK's connection pool (openai's DEFAULT_CONNECTION_LIMITS): more calls than this at
# once would wait inside the SDK, unfairly and on its timeout, so the call limit stops here.
SDK_CONNECTIONS = 1000

# After `[DONE]`, how long the rest of a body (its last bytes) may take to arrive before
# the connection is closed rather than kept for the next call (the SDK waits as long).
DRAIN_SECONDS = 0.1

log = logging.getLogger(__name__)


def _http_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeouts, other request errors) of the HTTP library the SDK reads with: httpx
    (openai 1.x, 2.x), httpx2 (3.x), or both. Reading a stream ourselves, we translate
    them as the SDK's reader does (`APITimeoutError`, `APIConnectionError`)."""
    timeouts: list[type[BaseException]] = []
    others: list[type[BaseException]] = [ssl.SSLError]
    for name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        others.append(module.RequestError)
    return tuple(timeouts), tuple(others)


TIMEOUT_ERRORS, TRANSPORT_ERRORS = _http_errors()


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
    of it ("Error code: 429 - {...}"), when the body has one; a gateway's HTML error page
    in a few words, not in full."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    content_type = exc.response.headers.get("content-type", "")
    if isinstance(body, str) and looks_like_html(content_type, body):
        return f"an HTML page: {html_summary(body)}"
    return exc.message


def timed_out(timeout: float) -> LLMError:
    return LLMError(
        f"the model server did not finish its answer within {timeout:g} s (GENFLOW_LLM_TIMEOUT)"
    )


def make_client(timeout: float) -> openai.AsyncOpenAI:
    """The SDK client both backends use; OPENAI_BASE_URL is read by the SDK itself."""
    return openai.AsyncOpenAI(
        api_key=os.environ.get("OPENAI_API_KEY") or "not-needed",
        timeout=timeout,
        max_retries=MAX_RETRIES,
        http_client=http_client(timeout),
    )


def http_client(timeout: float) -> Any:
    """The SDK's own HTTP client (same defaults), which reports every 429 it receives."""
    return openai.DefaultAsyncHttpxClient(
        timeout=timeout, event_hooks={"response": [_report_throttling]}
    )


async def _report_throttling(response: Any) -> None:
    if response.status_code == 429:
        call_limit.report_throttled(call_limit.retry_after(response.headers))


class OpenAILLM:
    name = "openai"
    max_concurrency = SDK_CONNECTIONS

    def __init__(self, *, model: str, timeout: float = 120.0, client: Any = None) -> None:
        self.model = model
        self.timeout = timeout  # for a whole answer; the client's own timeout is per read
        self.client = client or make_client(timeout)

    @property
    def server(self) -> structured_modes.Server:
        return (str(self.client.base_url), self.model)

    async def generate(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
        sampling: Sampling = DEFAULT_SAMPLING,
    ) -> Completion:
        chosen = {"model": sampling.model or self.model, **sampling.arguments()}
        try:
            if schema is not None:
                return await self._structured(messages, schema, chosen)
            if on_delta is not None:
                return await self._streamed(messages, on_delta, chosen)
            return await self._complete(self.client, {"messages": messages, **chosen})
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        except BadAnswer as exc:
            raise LLMError(str(exc)) from exc

    async def _structured(
        self, messages: list[Message], schema: dict[str, Any], chosen: dict[str, Any]
    ) -> Completion:
        """Ask in the mode this server is known to take, else find it out (LADDER order)."""
        async with MODES.finding(self.server) as known:
            refusal: openai.APIStatusError | None = None
            ladder = structured_modes.LADDER
            for mode in ladder[ladder.index(known or "json_schema") :]:
                try:
                    completion = await self._send(
                        {**structured_modes.request(mode, messages, schema), **chosen},
                        probing=mode != known,
                    )
                except openai.APIStatusError as exc:
                    if mode == "prompt" or not structured_modes.is_refusal(exc):
                        raise
                    refusal = exc
                    continue
                if MODES.remember(self.server, mode) and refusal is not None:
                    self._log_fallback(mode, refusal)
                return completion
        raise AssertionError("unreachable: the prompt mode returns or raises")

    def _log_fallback(self, mode: Mode, refusal: openai.APIStatusError) -> None:
        base_url, model = self.server
        log.warning(
            "%s (model %s) refused structured output (%s: %s); using %s from now on",
            base_url,
            model,
            refusal.status_code,
            excerpt(_reason(refusal)),
            "response_format json_object" if mode == "json_object" else "the schema in the prompt",
        )

    async def _send(self, arguments: dict[str, Any], *, probing: bool) -> Completion:
        """A structured call. A probe (a mode not known to work here) is retried here, not
        by the SDK, which would retry a refusal too: llama-cpp-python's is a 500, and
        would cost 1 + MAX_RETRIES calls with backoff instead of one."""
        if not probing:
            return await self._complete(self.client, arguments)
        once, retries = self.client.with_options(max_retries=0), self.client.max_retries
        for attempt in range(retries + 1):
            try:
                return await self._complete(once, arguments)
            except openai.APIStatusError as exc:
                refused = structured_modes.is_refusal(exc)
                if refused or not _retried_by_sdk(exc) or attempt == retries:
                    raise
                delay = _retry_delay(attempt, exc)
            except openai.APIConnectionError:  # timeouts included
                if attempt == retries:
                    raise
                delay = _retry_delay(attempt)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _complete(self, client: openai.AsyncOpenAI, arguments: dict[str, Any]) -> Completion:
        """One non-streamed call, its whole body read within `timeout`."""
        async with client.chat.completions.with_streaming_response.create(
            **{"model": self.model, **arguments}
        ) as response:
            return await self._whole(response.http_response, wanted="JSON")

    async def _streamed(
        self, messages: list[Message], on_delta: Callable[[str], None], chosen: dict[str, Any]
    ) -> Completion:
        """A streamed call: the SDK sends it, `chat_stream` reads its events as plain JSON
        (the SDK's per-chunk models cost more than the rest of the call together)."""
        async with self.client.chat.completions.with_streaming_response.create(
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            **chosen,
        ) as response:
            http = response.http_response
            content_type = http.headers.get("content-type", "")
            if "event-stream" not in content_type and any(
                kind in content_type for kind in ("json", "html")
            ):  # a proxy's page, or a server that ignored `stream`: one whole answer
                completion = await self._whole(http, wanted="an event stream")
                if completion.text:
                    on_delta(completion.text)
                return completion
            lines = http.aiter_lines()
            try:
                async with asyncio.timeout(self.timeout):
                    answer = await read_chat_stream(lines, on_delta)
                if answer.done:  # the rest of the body, so the connection is kept
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(DRAIN_SECONDS):
                            async for _ in lines:
                                pass
            except TimeoutError:
                raise timed_out(self.timeout) from None
            except json.JSONDecodeError as exc:
                raise LLMError(
                    f"the model server sent a stream event that is not JSON: {excerpt(exc.doc)}"
                ) from None
            except TIMEOUT_ERRORS as exc:  # the SDK's own words for what its reader raises
                raise openai.APITimeoutError(request=http.request) from exc
            except TRANSPORT_ERRORS as exc:
                raise openai.APIConnectionError(request=http.request) from exc
        usage = answer.usage or {}
        text = answer.text
        return Completion(
            text=text,
            model=chosen["model"],
            tokens_in=_count(usage, "prompt_tokens") if usage else _estimate(messages),
            tokens_out=_count(usage, "completion_tokens") if usage else max(1, len(text) // 4),
        )

    async def _whole(self, response: Any, *, wanted: str) -> Completion:
        """A whole chat completion body (an `httpx` response), read within `timeout`."""
        try:
            async with asyncio.timeout(self.timeout):
                body = await response.aread()
        except TimeoutError:
            raise timed_out(self.timeout) from None
        content_type = response.headers.get("content-type", "")
        status = response.status_code
        data = decode_json(status, content_type, body, who="model server", wanted=wanted)
        text, model, usage = chat_answer(data, status=status)
        return Completion(
            text=text,
            model=model or self.model,
            tokens_in=_count(usage, "prompt_tokens"),
            tokens_out=_count(usage, "completion_tokens"),
        )


def _retried_by_sdk(exc: openai.APIStatusError) -> bool:
    return exc.status_code in (408, 409, 429) or exc.status_code >= 500


def _retry_delay(attempt: int, exc: openai.APIStatusError | None = None) -> float:
    """The server's Retry-After (ms or seconds), else the SDK's backoff (0.5 s doubling)."""
    headers = exc.response.headers if exc is not None else {}
    for header, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            return min(float(headers[header]) / divisor, MAX_RETRY_DELAY)
        except (KeyError, ValueError):
            continue
    return min(RETRY_DELAY * 2**attempt, MAX_RETRY_DELAY)


def _count(usage: dict[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) else 0


def _estimate(messages: list[Message]) -> int:
    return max(1, sum(len(m["content"]) for m in messages) // 4)
