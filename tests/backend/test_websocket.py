"""Job events over WebSocket: the same objects as SSE, ending after the terminal event."""

from __future__ import annotations

import json

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
