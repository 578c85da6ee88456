"""bench/sse_raw.py: the bare-protocol SSE follower against a scripted HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bench.sse_raw import Dechunker, follow_sse

EVENTS = (
    b"retry: 2000\n\n"
    b'id: 1\nevent: job.created\ndata: {"seq":1,"type":"job.created"}\n\n'
    b": ping\n\n"
    b'id: 2\nevent: job.completed\ndata: {"seq":2,"type":"job.completed"}\n\n'
)


def chunked(body: bytes, size: int) -> bytes:
    pieces = [body[at : at + size] for at in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def test_dechunking_gives_the_body_back_however_the_bytes_are_cut() -> None:
    wire = chunked(EVENTS, 7)
    for cut in range(1, len(wire)):
        decoder = Dechunker()
        assert decoder.feed(wire[:cut]) + decoder.feed(wire[cut:]) == EVENTS, cut
        assert decoder.ended
    decoder = Dechunker()
    assert b"".join(decoder.feed(bytes([b])) for b in wire) == EVENTS
    assert decoder.ended


@asynccontextmanager
async def serving(response: bytes, seen: list[bytes]) -> AsyncIterator[str]:
    """A server that answers every request with `response`, a few bytes at a time, then
    hangs up (or, after a complete chunked body, waits for the client to)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        for at in range(0, len(response), 5):
            writer.write(response[at : at + 5])
            await writer.drain()
        if response.endswith(b"0\r\n\r\n"):  # a complete chunked body: the client hangs up
            await reader.read()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/api/jobs/j/events?after=0"


async def test_a_chunked_stream_is_read_to_its_terminal_event() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    head += b"transfer-encoding: chunked\r\n\r\n"
    seen: list[bytes] = []
    async with serving(head + chunked(EVENTS, 11), seen) as url:
        received = await asyncio.wait_for(follow_sse(url, headers={"X-Token": "t"}), 5)
    assert received.status == 200 and received.ended
    assert [e for _, e in received.events] == [
        {"seq": 1, "type": "job.created"},
        {"seq": 2, "type": "job.completed"},
    ]
    assert seen[0].startswith(b"GET /api/jobs/j/events?after=0 HTTP/1.1\r\n")
    assert b"\r\nX-Token: t\r\n" in seen[0]


async def test_a_stream_that_ends_without_a_terminal_event_ends_the_read() -> None:
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    unfinished = EVENTS[: EVENTS.index(b": ping")]
    async with serving(head + chunked(unfinished, 16), []) as url:
        received = await asyncio.wait_for(follow_sse(url), 5)
    assert received.ended and [e["seq"] for _, e in received.events] == [1]


async def test_an_error_status_is_returned_without_events() -> None:
    answer = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}"
    async with serving(answer, []) as url:
        received = await asyncio.wait_for(follow_sse(url), 5)
    assert received.status == 404 and received.events == [] and not received.ended


async def test_a_connection_cut_mid_stream_is_an_error() -> None:
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    async with serving(head + chunked(EVENTS, 16)[:60], []) as url:
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(follow_sse(url), 5)
