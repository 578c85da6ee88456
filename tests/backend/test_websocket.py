"""Job events over WebSocket: the same objects as SSE; closed with 1000 after the terminal
event, with 1012 (service restart) when the server shuts down first."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from quart.testing.connections import WebsocketDisconnectError

from tests.harness import Harness, article_llm, running_app


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
        with pytest.raises(WebsocketDisconnectError) as closed:
            await asyncio.wait_for(ws.receive(), 5)
    assert closed.value.args[0] == 1000, "1000: the job ended"
    durable = [e for e in received if e["seq"] is not None]
    assert [e["seq"] for e in durable] == list(range(1, len(durable) + 1))
    assert durable == await harness.events(job["id"])


async def test_websocket_without_a_valid_token_is_refused(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    async with harness.client.websocket(f"/api/jobs/{job['id']}/ws?access_token=nope") as ws:
        frame = json.loads(await ws.receive())
    assert frame["error"]["code"] == "unauthorized"


async def test_closing_the_bus_closes_open_sockets_with_1012(harness: Harness) -> None:
    """On shutdown followers are released at once, told to reconnect (1012), not that the
    job ended (1000)."""
    job = await harness.create("review", {"task": "t"})
    await harness.wait_for(job["id"], "waiting_for_review")
    token = harness.headers()["Authorization"].split()[1]
    async with harness.client.websocket(f"/api/jobs/{job['id']}/ws?access_token={token}") as ws:
        frames = [json.loads(await ws.receive()) for _ in range(3)]
        harness.services.bus.close()
        while frames[-1]["type"] != "review.requested":
            frames.append(json.loads(await ws.receive()))
        with pytest.raises(WebsocketDisconnectError) as closed:  # closed, not left hanging
            await asyncio.wait_for(ws.receive(), 5)
    assert closed.value.args[0] == 1012
    assert (await harness.job(job["id"]))["status"] == "waiting_for_review"


async def test_a_socket_on_another_replica_streams_the_job(tmp_path: Path, redis_url: str) -> None:
    """Two apps on one database and one Redis: the job runs on A, B streams it live."""
    llm = article_llm()
    async with (
        running_app(tmp_path, llm, redis_url=redis_url) as a,
        running_app(tmp_path, llm, redis_url=redis_url) as b,
    ):
        assert b.services.bus.status()["backend"] == "redis"
        job = await a.create("article", {"topic": "coffee"})
        token = b.headers()["Authorization"].split()[1]
        received = []
        async with b.client.websocket(f"/api/jobs/{job['id']}/ws?access_token={token}") as ws:
            with pytest.raises(WebsocketDisconnectError) as closed:
                while True:
                    received.append(json.loads(await asyncio.wait_for(ws.receive(), 10)))
        assert closed.value.args[0] == 1000
        durable = [e for e in received if e["seq"] is not None]
        assert durable == await a.events(job["id"])
        assert durable[-1]["type"] == "job.completed"
