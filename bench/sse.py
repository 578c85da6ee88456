"""A lean Server-Sent Events reader (aiohttp) that timestamps every event on arrival.

Load generation shares the machine with the server, so the client must be cheap: one
aiohttp session, no per-line objects beyond what parsing needs.
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
) -> Received:
    """Read `url` until `done(event)` or the end of the stream; `on_event` sees each event."""
    received = Received()
    async with session.get(
        url, headers={"Accept": "text/event-stream", **(headers or {})}
    ) as response:
        received.status = response.status
        received.opened = time.time()
        if response.status != 200:
            await response.read()
            return received
        data: list[bytes] = []
        async for line in response.content:
            if line.startswith(b"data:"):
                data.append(line[5:].strip())
            elif line in (b"\n", b"\r\n") and data:
                now = time.time()
                event = json.loads(b"\n".join(data))
                data = []
                received.events.append((now, event))
                if on_event is not None:
                    on_event(event)
                if done(event):
                    received.ended = True
                    return received
        received.ended = True
    return received


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
