"""A streamed chat completion read as plain JSON, one server-sent event at a time.

The SDK turns every chunk of a stream into a `ChatCompletionChunk` model, through its
generic, reflective `construct` (typing and `inspect` look-ups for every field of every
nested object): with a real model every token is a chunk, and that construction was two
thirds of the CPU of a streamed call, about 100 µs a chunk (docs/performance.md, "The
model client"). What a chunk carries that GenFlow uses - the delta's text and, last, the
usage - is two dictionary look-ups away in the chunk's JSON, so the stream is read here:
the SDK still sends the request (auth, retries, the 429 hook, status errors), and this
module only reads the body of its `with_streaming_response`.

Like the SDK's own reader: events are separated by blank lines, their `data:` lines
joined; `[DONE]` ends the answer; an event whose JSON has an `error` is the server's
error; an event not terminated by a blank line when the body ends is dropped (the SSE
specification's rule for an incomplete event).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from flows.providers.server_answers import BadAnswer, error_in, excerpt


@dataclass
class StreamedAnswer:
    """What a stream said: its text, in pieces, and its usage if the server sent one."""

    parts: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    done: bool = False  # `[DONE]` arrived (the body may still hold its last bytes)

    @property
    def text(self) -> str:
        return "".join(self.parts)


async def read_chat_stream(
    lines: AsyncIterator[str], on_delta: Callable[[str], None]
) -> StreamedAnswer:
    """Read `lines` (a response's text lines) up to `[DONE]` or their end, passing each
    piece of text to `on_delta` as it arrives.

    Raises `json.JSONDecodeError` for an event that is not JSON, `BadAnswer` for an error
    event or one that is not a chunk. Stops reading at `[DONE]`: the caller drains what is
    left, so the connection can be used again.
    """
    answer = StreamedAnswer()
    data: list[str] = []
    async for line in lines:
        if line:
            if line.startswith("data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(" ") else value)
            continue  # comments (": keep-alive"), `event:`, `id:` and `retry:` lines
        if not data:
            continue
        payload = data[0] if len(data) == 1 else "\n".join(data)
        data = []
        if payload.startswith("[DONE]"):
            answer.done = True
            return answer
        _take(json.loads(payload), answer, on_delta)
    return answer


def _take(chunk: Any, answer: StreamedAnswer, on_delta: Callable[[str], None]) -> None:
    """One chunk's text (every choice's delta) and usage."""
    if not isinstance(chunk, dict):
        raise BadAnswer(
            "the model server sent a stream event that is not a chat completion chunk: "
            f"{excerpt(json.dumps(chunk))}"
        )
    if chunk.get("error") and (message := error_in(chunk)) is not None:
        raise BadAnswer(f"the model server sent an error in its stream: {message}")
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        text = delta.get("content") if isinstance(delta, dict) else None
        if text and isinstance(text, str):
            answer.parts.append(text)
            on_delta(text)
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        answer.usage = usage
