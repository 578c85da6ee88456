"""A streamed chat completion read as plain JSON (`flows.providers.chat_stream`), and the
`openai` backend's streamed calls through it: on their own (lines in, text and usage out)
and against a bare HTTP server that sends exactly the bytes a test gives it - events
split as servers split them, a connection dropped mid-answer, a kept-alive connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from flows.llm import LLMError
from flows.providers.chat_stream import read_chat_stream
from flows.providers.openai_llm import OpenAILLM
from flows.providers.server_answers import BadAnswer

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Count to three"}]


def chunk(text: str | None = None, *, usage: dict[str, int] | None = None) -> dict[str, Any]:
    """A chat.completion.chunk as OpenAI sends it (the usage chunk has no choices)."""
    choices = [] if text is None else [{"index": 0, "delta": {"content": text}}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": choices,
        "usage": usage,
    }


def event(data: Any, newline: str = "\n") -> str:
    return f"data: {json.dumps(data)}{newline}{newline}"


async def lines_of(text: str) -> AsyncIterator[str]:
    for line in text.splitlines():
        yield line


async def read(text: str) -> tuple[Any, list[str]]:
    deltas: list[str] = []
    return await read_chat_stream(lines_of(text), deltas.append), deltas


# -- the reader ---------------------------------------------------------------------


async def test_text_arrives_piece_by_piece_and_the_usage_comes_last() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    body = "".join(event(chunk(t)) for t in ("One", " two", " three"))
    body += event(chunk(usage=usage)) + "data: [DONE]\n\n"

    answer, deltas = await read(body)

    assert deltas == ["One", " two", " three"]
    assert answer.text == "One two three"
    assert answer.usage == usage
    assert answer.done


async def test_comments_other_fields_and_empty_deltas_are_skipped() -> None:
    role_only = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    no_delta = {"choices": [{"index": 0, "finish_reason": "stop"}]}
    body = (
        ": keep-alive\n\n"
        + "event: message\nid: 1\nretry: 100\n"
        + event(chunk("Hi"))
        + event(role_only)
        + event(no_delta)
        + event({"choices": [{"delta": {"content": None}}], "usage": None})
    )

    answer, deltas = await read(body)

    assert deltas == ["Hi"]
    assert answer.usage is None
    assert not answer.done  # the body ended without [DONE]: what came is the answer


async def test_data_lines_of_one_event_are_joined() -> None:
    data = json.dumps(chunk("Hi"), indent=1).splitlines()  # JSON over several data: lines
    body = "".join(f"data: {line}\n" for line in data) + "\n"

    _, deltas = await read(body)

    assert deltas == ["Hi"]


async def test_nothing_after_done_is_read() -> None:
    lines = lines_of(event(chunk("Hi")) + "data: [DONE]\n\n" + event(chunk("late")))
    deltas: list[str] = []

    await read_chat_stream(lines, deltas.append)

    assert deltas == ["Hi"]
    assert [line async for line in lines] == [f"data: {json.dumps(chunk('late'))}", ""]


async def test_an_event_cut_off_by_the_end_of_the_body_is_dropped() -> None:
    answer, deltas = await read(event(chunk("Hi")) + f"data: {json.dumps(chunk('cut'))}")

    assert deltas == ["Hi"]
    assert answer.text == "Hi"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"error": {"message": "The server had an error", "type": "server_error"}},
            "the model server sent an error in its stream: The server had an error",
        ),
        (
            [1, 2],
            "the model server sent a stream event that is not a chat completion chunk: '[1, 2]'",
        ),
    ],
)
async def test_an_error_event_or_one_that_is_no_chunk_says_what_it_was(
    data: Any, message: str
) -> None:
    with pytest.raises(BadAnswer) as raised:
        await read(event(chunk("Hi")) + event(data))

    assert str(raised.value) == message


async def test_an_event_that_is_not_json_raises_json_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        await read('data: {"choices": [\n\n')


# -- through the SDK, against a bare HTTP server -------------------------------------


class BareServer:
    """HTTP/1.1 on 127.0.0.1 that answers every request with the test's SSE events as
    chunked transfer encoding, one chunk per event, then keeps the connection open for
    the next request - or, with `drop_after`, closes it after that many events; with
    `stall_after`, sends nothing more after that many and waits for the client to hang up
    (`hung_up`)."""

    def __init__(
        self,
        events: list[str],
        *,
        drop_after: int | None = None,
        stall_after: int | None = None,
    ) -> None:
        self.events = events
        self.drop_after = drop_after
        self.stall_after = stall_after
        self.hung_up = asyncio.Event()
        self.connections = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._open: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aenter__(self) -> BareServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._open.values():  # kept-alive connections end here
            writer.close()
        await asyncio.gather(*self._open, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._open[task] = writer
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.requests += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                for sent, data in enumerate(self.events):
                    if sent == self.drop_after:
                        writer.close()
                        return
                    if sent == self.stall_after:
                        await reader.read()  # b"" once the client closes the connection
                        self.hung_up.set()
                        return
                    raw = data.encode()
                    writer.write(b"%x\r\n%s\r\n" % (len(raw), raw))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()
            del self._open[task]


async def stream_from(server: BareServer, deltas: list[str]) -> Any:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=5)
    try:
        return await OpenAILLM(model=MODEL, client=client).generate(
            MESSAGES, on_delta=deltas.append
        )
    finally:
        await client.close()


USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
async def test_a_streamed_call_keeps_its_connection_for_the_next(newline: str) -> None:
    """Events split by CRLF (sse-starlette) or LF; after [DONE] the rest of the body is
    read, so the SDK's pool keeps the connection instead of opening another."""
    events = [event(chunk(t), newline) for t in ("One", " two")]
    events += [event(chunk(usage=USAGE), newline), f"data: [DONE]{newline}{newline}"]
    deltas: list[str] = []
    async with BareServer(events) as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=5)
        llm = OpenAILLM(model=MODEL, client=client)
        first = await llm.generate(MESSAGES, on_delta=deltas.append)
        second = await llm.generate(MESSAGES, on_delta=deltas.append)
        await client.close()

    assert (first.text, first.tokens_in, first.tokens_out) == ("One two", 3, 2)
    assert second.text == "One two"
    assert deltas == ["One", " two"] * 2
    assert (server.requests, server.connections) == (2, 1)


async def test_a_connection_dropped_mid_answer_is_a_connection_error() -> None:
    events = [event(chunk(t)) for t in ("One", " two", " three")] + ["data: [DONE]\n\n"]
    deltas: list[str] = []
    async with BareServer(events, drop_after=2) as server:
        with pytest.raises(LLMError) as raised:
            await stream_from(server, deltas)

    assert str(raised.value) == "cannot reach the model server: Connection error."
    assert isinstance(raised.value.__cause__, openai.APIConnectionError)
    assert deltas == ["One", " two"]  # what arrived was streamed as it came


async def test_an_error_in_the_stream_fails_the_call_with_its_message() -> None:
    events = [event(chunk("One")), event({"error": {"message": "model overloaded"}})]
    deltas: list[str] = []
    async with BareServer(events) as server:
        with pytest.raises(LLMError) as raised:
            await stream_from(server, deltas)

    assert str(raised.value) == "the model server sent an error in its stream: model overloaded"
    assert deltas == ["One"]


async def test_without_a_usage_chunk_the_tokens_are_estimated() -> None:
    deltas: list[str] = []
    async with BareServer([event(chunk("One two three four")), "data: [DONE]\n\n"]) as server:
        completion = await stream_from(server, deltas)

    assert completion.text == "One two three four"
    assert completion.tokens_in == len(MESSAGES[0]["content"]) // 4
    assert completion.tokens_out == len("One two three four") // 4


async def test_a_cancelled_call_hangs_up_at_once() -> None:
    """Cancelling the job's task stops the call in flight: the connection is closed, the
    server is not left streaming to no one."""
    events = [event(chunk(t)) for t in ("One", " two", " three")]
    deltas: list[str] = []
    two_arrived = asyncio.Event()

    def on_delta(text: str) -> None:
        deltas.append(text)
        if len(deltas) == 2:
            two_arrived.set()

    async with BareServer(events, stall_after=2) as server:
        client = openai.AsyncOpenAI(
            base_url=server.base_url, api_key="x", max_retries=0, timeout=60
        )
        call = asyncio.create_task(
            OpenAILLM(model=MODEL, client=client).generate(MESSAGES, on_delta=on_delta)
        )
        await two_arrived.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(server.hung_up.wait(), timeout=5)
        await client.close()

    assert deltas == ["One", " two"]
