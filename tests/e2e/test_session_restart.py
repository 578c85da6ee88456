"""A GenFlow session survives a crash in the middle of a model action.

The server is SIGKILLed while the session's `discover_topics` job waits for the model; a
new process on the same data dir resumes the job, folds its result into the session,
and a client that reconnects gets every frame once, the topics included.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from backend.client import APIError, GenFlowClient
from tests.e2e.server import GenFlowServer, write_script
from tests.fakes.session_answers import TOPICS

pytestmark = pytest.mark.timeout(90)

SCRIPT: list[dict[str, Any]] = [{"answer": TOPICS, "match": "Suggest 2", "delay": 2.0}]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GenFlowServer]:
    script = write_script(tmp_path / "llm.json", SCRIPT)
    proc = GenFlowServer(data_dir=tmp_path / "data", script=script)
    try:
        yield proc.start()
    finally:
        proc.kill()
        proc.stop()


async def poll(http: httpx.AsyncClient, path: str, done: Any, what: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        body = (await http.get(path, headers={"Accept": "application/json"})).json()
        if done(body):
            return body
        assert asyncio.get_running_loop().time() < deadline, f"never {what}: {body}"
        await asyncio.sleep(0.05)


async def test_a_crash_mid_action_resumes_and_the_frames_follow(server: GenFlowServer) -> None:
    async with server.client() as http:
        made = await http.post(
            "/api/genflow/sessions", json={"articleId": "a1", "context": {"category": "coffee"}}
        )
        sid = made.json()["sessionId"]
        started = await http.post(
            f"/api/genflow/sessions/{sid}/actions",
            json={"action": "discover_topics", "parameters": {"count": 2}},
        )
        job_id = started.json()["actionId"]
        await poll(
            http,
            f"/api/jobs/{job_id}/events",
            lambda body: [e["type"] for e in body["events"]][-1:] == ["node.progress"],
            "the action asking the model",
        )

    server.kill()  # mid model call: no shutdown hooks, nothing flushed
    await server.start_async()

    async with server.client() as http:
        session = await poll(
            http,
            f"/api/genflow/sessions/{sid}",
            lambda s: s["progress"]["status"] != "processing",
            "the action finished after the restart",
        )
        job = (await http.get(f"/api/jobs/{job_id}")).json()
        stored = (
            await http.get(f"/api/jobs/{job_id}/events", headers={"Accept": "application/json"})
        ).json()["events"]
    assert session["progress"]["status"] == "idle", session
    assert [t["title"] for t in session["document"]["topics"]] == [
        "Why coffee houses mattered",
        "The long road to espresso",
    ]
    assert job["status"] == "completed"
    assert [e["data"]["attempt"] for e in stored if e["type"] == "job.started"] == [1, 2]

    url = server.base_url.replace("http://", "ws://") + f"/api/genflow/sessions/{sid}/realtime"
    frames: list[dict[str, Any]] = []
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": f"Bearer {server.token}"}))
        async with asyncio.timeout(10):
            while not frames or frames[-1]["metadata"]["eventId"] != session["lastEventId"]:
                frame = json.loads(await ws.recv())
                if frame["type"] != "session.state":
                    frames.append(frame)
    ids = [f["metadata"]["eventId"] for f in frames]
    assert ids == list(range(1, session["lastEventId"] + 1)), "every stored frame, once"
    assert [f["type"] for f in frames].count("topics.discovered") == 1


async def test_the_clients_frame_follower_rides_through_the_restart(
    server: GenFlowServer,
) -> None:
    """GenFlowClient.session_frames, the follower the web view and Slack use, reconnects
    from the last eventId after a crash: the topics arrive once, no stored frame twice."""
    async with GenFlowClient(server.base_url, server.token) as client:
        sid = (await client.create_session("a2", context={"category": "coffee"}))["sessionId"]
        frames = client.session_frames(sid, reconnect_delay=0.2)
        first = await anext(frames)
        assert first["type"] == "session.state"
        assert first["data"]["progress"]["stage"] == "topic"

        job_id = (await client.session_action(sid, "discover_topics", {"count": 2}))["actionId"]
        async for event in client.follow(job_id):
            if event["type"] == "node.progress":
                break  # the job is asking the model
        server.kill()
        await server.start_async()

        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(30):
            async for message in frames:
                seen.append(message)
                if message["type"] == "topics.discovered":
                    break
        stored = [
            m["metadata"]["eventId"]
            for m in seen
            if m["metadata"]["eventId"] and m["type"] != "session.state"
        ]
        assert [m["type"] for m in seen].count("session.state") == 1, "one after reconnecting"
        assert len(stored) == len(set(stored)), f"a stored frame came twice: {seen}"
        assert [t["title"] for t in seen[-1]["data"]["topics"]] == [
            "Why coffee houses mattered",
            "The long road to espresso",
        ]

        await client.delete_session(sid)
        with pytest.raises(APIError) as gone:
            async with asyncio.timeout(10):
                async for _ in frames:
                    pass
        assert gone.value.status == 404
