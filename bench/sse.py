"""A lean Server-Sent Events reader (aiohttp) that timestamps every event on arrival.

Load generation shares the machine with the server, so the client must be cheap: one
aiohttp session, and the stream read as it arrives (one await per network read, not per
line; profiled, line-by-line reading was a third of the client's time with 1,000 streams).
Every event in a read gets that read's arrival time: the bytes were there then, however
long parsing the events before it took.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

TERMINAL = frozenset({"job.completed", "job.failed", "job.cancelled"})


@dataclass
class Received:
    """What one follower saw: (arrival wall time, event) pairs, in order."""

    status: int = 0
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    ended: bool = False  # the server ended the stream by itself
    opened: float = 0.0  # when the response headers arrived (wall time)

    @property
    def durable(self) -> list[dict[str, Any]]:
        return [e for _, e in self.events if e.get("seq") is not None]


def genflow_done(event: dict[str, Any]) -> bool:
    return event.get("type") in TERMINAL


async def read_sse(
    session: aiohttp.ClientSession,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    done: Callable[[dict[str, Any]], bool] = genflow_done,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    create: dict[str, Any] | None = None,
    received: Received | None = None,
    on_open: Callable[[], None] | None = None,
) -> Received:
    """Read `url` until `done(event)` or the end of the stream; `on_event` sees each event.
    With `create`, the stream is the answer to POSTing it (GenFlow's `POST /api/jobs` with
    `Accept: text/event-stream`: the job is created and followed in one request).
    `received`, if given, is filled as the events come (and kept if the read fails);
    `on_open` is called when the answer's head has arrived."""
    received = received if received is not None else Received()
    accept = {"Accept": "text/event-stream", **(headers or {})}
    request = (
        session.get(url, headers=accept)
        if create is None
        else session.post(url, json=create, headers=accept)
    )
    async with request as response:
        received.status = response.status
        received.opened = time.time()
        if on_open is not None:
            on_open()
        if response.status != (200 if create is None else 201):
            await response.read()
            return received
        blocks = SSEBlocks()
        async for chunk in response.content.iter_any():
            now = time.time()
            for data in blocks.feed(chunk):
                event = json.loads(data)
                received.events.append((now, event))
                if on_event is not None:
                    on_event(event)
                if done(event):
                    received.ended = True
                    return received
        received.ended = True
    return received


class SSEBlocks:
    """Cuts a stream into SSE blocks and gives back each block's `data` (its `data:`
    lines joined); blocks without one (`: ping`, `retry:`) give nothing. Lines may end
    in LF or CRLF."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._cr = False  # the last chunk ended in CR: its LF may start the next one

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._cr:
            chunk = b"\r" + chunk
        self._cr = chunk.endswith(b"\r")
        if self._cr:
            chunk = chunk[:-1]
        chunk = chunk.replace(b"\r\n", b"\n")
        start = max(0, len(self._buffer) - 1)  # a blank line may straddle two chunks
        self._buffer += chunk
        if self._buffer.find(b"\n\n", start) < 0:
            return []
        *blocks, rest = bytes(self._buffer).split(b"\n\n")
        self._buffer = bytearray(rest)
        return [data for block in blocks if (data := _data(block)) is not None]


def _data(block: bytes) -> bytes | None:
    if block.startswith(b"data:") and b"\n" not in block:
        return block[5:].strip()
    lines = [line[5:].strip() for line in block.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


def live_latencies(received: Received) -> list[float]:
    """Seconds from emission to arrival, for the events emitted after the stream opened
    (earlier ones are replays: their age says nothing about delivery)."""
    latencies = []
    for arrived, event in received.events:
        if "ts" in event and (emitted := emitted_at(event)) >= received.opened:
            latencies.append(arrived - emitted)
    return latencies


def emitted_at(event: dict[str, Any]) -> float:
    """The event's emission time (its `ts`, ISO-8601 UTC, or epoch seconds) as epoch seconds."""
    ts = event["ts"]
    if isinstance(ts, int | float):
        return float(ts)
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
