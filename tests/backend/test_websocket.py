"""Job events over WebSocket: the same objects as SSE, ending after the terminal event."""

from __future__ import annotations

import asyncio
import json

import pytest
from quart.testing.connections import WebsocketDisconnectError

from tests.harness import Harness


async def test_websocket_streams_the_whole_job(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    token = harness.headers()["Authorization"].split()[1]
    received = []
    async with harness.client.websocket(f"/api/jobs/{job['id']}/ws?access_token={token}") as ws:
        while True:
            event = json.loads(await ws.receive())
            received.append(event)
            if event["type"] == "job.completed":
                break
    durable = [e for e in received if e["seq"] is not None]
    assert [e["seq"] for e in durable] == list(range(1, len(durable) + 1))
    assert durable == await harness.events(job["id"])


async def test_websocket_without_a_valid_token_is_refused(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    async with harness.client.websocket(f"/api/jobs/{job['id']}/ws?access_token=nope") as ws:
        frame = json.loads(await ws.receive())
    assert frame["error"]["code"] == "unauthorized"


async def test_closing_the_bus_ends_open_streams(harness: Harness) -> None:
    """On shutdown followers are released at once (they reconnect with Last-Event-ID)."""
    job = await harness.create("review", {"task": "t"})
    await harness.wait_for(job["id"], "waiting_for_review")
    token = harness.headers()["Authorization"].split()[1]
    async with harness.client.websocket(f"/api/jobs/{job['id']}/ws?access_token={token}") as ws:
        frames = [json.loads(await ws.receive()) for _ in range(3)]
        harness.services.bus.close()
        while frames[-1]["type"] != "review.requested":
            frames.append(json.loads(await ws.receive()))
        with pytest.raises(WebsocketDisconnectError):  # closed, not left hanging
            await asyncio.wait_for(ws.receive(), 2)
