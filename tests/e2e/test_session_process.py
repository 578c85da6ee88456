"""A whole GenFlow session against a real server process whose model is the local fake
OpenAI server (the real `openai` SDK, streaming and structured output over HTTP).

Topic -> approve through REST, watched over the realtime WebSocket: every frame type is
seen, stored frames' `eventId`s strictly increase, and the document's draft versions are
the ones the actions made.
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

from tests.e2e.server import GenFlowServer, write_script
from tests.fakes.openai_server import FakeOpenAIProcess
from tests.fakes.session_answers import IDEAS, NOTES, REVIEW, SESSION_RULES, TOPICS
from tests.harness import SECTION_TEXT, STYLED_TEXT

pytestmark = pytest.mark.timeout(120)

RULES: list[dict[str, Any]] = [
    *SESSION_RULES,
    {"answer": SECTION_TEXT, "match": "Write one paragraph"},
    {"answer": STYLED_TEXT, "match": "Rewrite this article draft"},
]
FRAME_TYPES = {
    "stage.change",
    "progress.update",
    "topics.discovered",
    "research.completed",
    "draft.updated",
    "review.completed",
    "suggestion",
    "error",
    "llm.delta",
}


@pytest.fixture
def model(tmp_path: Path) -> Iterator[FakeOpenAIProcess]:
    fake = FakeOpenAIProcess(log_path=tmp_path / "fake-openai.log").start()
    fake.control(rules=RULES, chunk_delay=0.01)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def server(tmp_path: Path, model: FakeOpenAIProcess) -> Iterator[GenFlowServer]:
    proc = GenFlowServer(
        data_dir=tmp_path / "data",
        script=write_script(tmp_path / "unused.json", []),
        extra_env={
            "GENFLOW_LLM": "openai",
            "OPENAI_BASE_URL": model.base_url,
            "OPENAI_API_KEY": "test",
            "GENFLOW_MODEL": "gpt-4o-mini",
        },
    )
    try:
        yield proc.start()
    finally:
        proc.stop()


class Watcher:
    """Reads every frame of one socket in the background."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.arrived = asyncio.Condition()

    async def read(self, ws: Any) -> None:
        async for raw in ws:
            async with self.arrived:
                self.frames.append(json.loads(raw))
                self.arrived.notify_all()

    async def seen(self, kind: str, count: int = 1) -> dict[str, Any]:
        async with asyncio.timeout(30), self.arrived:
            await self.arrived.wait_for(
                lambda: sum(f["type"] == kind for f in self.frames) >= count
            )
            return [f for f in self.frames if f["type"] == kind][count - 1]


async def act(http: httpx.AsyncClient, sid: str, action: str, **parameters: Any) -> dict[str, Any]:
    response = await http.post(
        f"/api/genflow/sessions/{sid}/actions",
        json={"action": action, "parameters": parameters},
    )
    assert response.status_code in (200, 202), response.text
    return response.json()


async def test_a_whole_session_over_rest_and_the_socket(server: GenFlowServer) -> None:
    watcher = Watcher()
    async with server.client() as http:
        sid = (
            await http.post(
                "/api/genflow/sessions",
                json={"articleId": "a1", "context": {"category": "coffee"}},
            )
        ).json()["sessionId"]
        url = server.base_url.replace("http://", "ws://") + f"/api/genflow/sessions/{sid}/realtime"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": f"Bearer {server.token}"}))
            reading = asyncio.create_task(watcher.read(ws))
            await watcher.seen("session.state")

            await act(http, sid, "discover_topics", count=2)
            topics = (await watcher.seen("topics.discovered"))["data"]["topics"]
            assert [t["title"] for t in topics] == [t["title"] for t in TOPICS["topics"]]
            await watcher.seen("progress.update", 2)  # the action's start, and its end
            await act(http, sid, "select_topic", topicId="topic-1")
            await act(http, sid, "research_topic")
            notes = (await watcher.seen("research.completed"))["data"]["research"]
            assert notes["keyPoints"] == NOTES["keyPoints"]
            await watcher.seen("stage.change", 3)  # -> topic, -> research, -> writing

            await act(http, sid, "write_article")
            first = (await watcher.seen("draft.updated"))["data"]["draft"]
            assert first["version"] == 1 and "## Origins" in first["markdown"]
            await _idle(http, sid)
            edited = first["markdown"] + "\nA line the person added.\n"
            await act(http, sid, "edit_draft", markdown=edited)
            assert (await watcher.seen("draft.updated", 2))["data"]["draft"]["version"] == 2

            await act(http, sid, "advance")
            await act(http, sid, "apply_style", tone="playful")
            styled = (await watcher.seen("draft.updated", 3))["data"]["draft"]
            assert styled["version"] == 3
            await watcher.seen("llm.delta")  # the restyled text streamed as it was written
            await _idle(http, sid)

            await act(http, sid, "advance")
            await act(http, sid, "review_article")
            review = (await watcher.seen("review.completed"))["data"]["review"]
            assert review["scores"] == REVIEW["scores"]
            await _idle(http, sid)

            await ws.send(json.dumps({"type": "request.suggestion", "data": {}}))
            assert (await watcher.seen("suggestion"))["data"]["suggestions"] == IDEAS["suggestions"]
            await ws.send("not json")
            assert (await watcher.seen("error"))["data"]["code"] == "bad_frame"

            await act(http, sid, "approve")
            await watcher.seen("stage.change", 5)
            final = (await http.get(f"/api/genflow/sessions/{sid}")).json()
            reading.cancel()

    assert final["progress"]["status"] == "completed"
    assert final["document"]["final"]["markdown"].strip()
    assert [v["version"] for v in final["document"]["history"]] == [1, 2, 3]
    assert FRAME_TYPES <= {f["type"] for f in watcher.frames}
    stored = [
        f["metadata"]["eventId"]
        for f in watcher.frames
        if f["metadata"]["eventId"] is not None and f["type"] != "session.state"
    ]
    assert stored == sorted(set(stored)), "eventIds strictly increase, none repeated"


async def _idle(http: httpx.AsyncClient, sid: str) -> None:
    """Until the session's action is done (GET, as a REST client would)."""
    async with asyncio.timeout(30):
        while (await http.get(f"/api/genflow/sessions/{sid}")).json()["progress"][
            "status"
        ] == "processing":
            await asyncio.sleep(0.05)
