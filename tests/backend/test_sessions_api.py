"""GenFlow sessions over REST and the realtime WebSocket, through Quart's test client.

A whole session topic -> approve with the scripted model, every frame type seen and
`eventId` strictly increasing; WebSocket auth; conflicts, other principals and expiry.
Expiry runs on a session clock the test moves (`SessionClock`), never on the wall clock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from quart.testing.connections import WebsocketDisconnectError

from backend.api import session_realtime
from backend.domain import utcnow
from flows.providers.scripted_llm import Reply, ScriptedLLM
from tests.fakes.session_answers import IDEAS, NOTES, REVIEW, TOPICS
from tests.harness import SECTION_TEXT, STYLED_TEXT, Harness, running_app


def session_llm(delay: float = 0.0) -> ScriptedLLM:
    return ScriptedLLM(
        [
            Reply(TOPICS, match="Suggest 2", delay=delay),
            Reply(IDEAS, match="Give 3 different"),
            Reply(NOTES, match="research notes", delay=delay),
            Reply(SECTION_TEXT, match="Write one paragraph", delay=delay),
            Reply(STYLED_TEXT, match="Rewrite this article draft", delay=delay),
            Reply(REVIEW, match="Review this article", delay=delay),
        ]
    )


class SessionClock:
    """Session time (expiry) that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@asynccontextmanager
async def app(
    tmp_path: Path, clock: SessionClock | None = None, **overrides: Any
) -> AsyncIterator[Harness]:
    async with running_app(tmp_path, session_llm(overrides.pop("delay", 0.0)), **overrides) as h:
        if clock is not None:  # before any session exists
            h.services.sessions.clock = clock
        yield h


async def create(h: Harness, sub: str = "alice", **body: Any) -> dict[str, Any]:
    response = await h.client.post(
        "/api/genflow/sessions",
        json={"articleId": "art-1", "context": {"category": "coffee"}, **body},
        headers=h.headers(sub),
    )
    assert response.status_code == 201, await response.get_json()
    return await response.get_json()


async def act(h: Harness, session_id: str, action: str, sub: str = "alice", **params: Any) -> Any:
    return await h.client.post(
        f"/api/genflow/sessions/{session_id}/actions",
        json={"action": action, "parameters": params},
        headers=h.headers(sub),
    )


async def state(h: Harness, session_id: str, sub: str = "alice") -> dict[str, Any]:
    response = await h.client.get(f"/api/genflow/sessions/{session_id}", headers=h.headers(sub))
    assert response.status_code == 200, await response.get_json()
    return await response.get_json()


async def settled(h: Harness, session_id: str) -> dict[str, Any]:
    """The session once its action's job is done (polls GET, as a REST client would)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        current = await state(h, session_id)
        if current["progress"]["status"] != "processing":
            return current
        assert asyncio.get_running_loop().time() < deadline, current
        await asyncio.sleep(0.05)


class Socket:
    """A realtime client: frames received so far, by a background reader."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.frames: list[dict[str, Any]] = []

    async def next(self, kind: str, *, to: str | None = None, timeout: float = 10.0) -> dict:
        """The next frame of `kind` (a `stage.change` to the stage `to`)."""
        async with asyncio.timeout(timeout):
            while True:
                found = json.loads(await self.connection.receive())
                self.frames.append(found)
                if found["type"] == kind and (to is None or found["data"].get("to") == to):
                    return found

    def stored(self) -> list[dict[str, Any]]:
        return [
            f
            for f in self.frames
            if f["metadata"]["eventId"] is not None and f["type"] != "session.state"
        ]


@asynccontextmanager
async def socket(
    h: Harness, session_id: str, sub: str = "alice", **auth: Any
) -> AsyncIterator[Socket]:
    async with h.client.websocket(f"/api/genflow/sessions/{session_id}/realtime") as ws:
        token = h.headers(sub)["Authorization"]
        await ws.send(json.dumps({"type": "auth", "token": token, **auth}))
        client = Socket(ws)
        await client.next("session.state")
        yield client


async def test_a_whole_session_from_topic_to_approval(tmp_path: Path) -> None:
    async with app(tmp_path) as h:
        created = await create(h)
        sid = created["sessionId"]
        assert created["progress"] == {"stage": "topic", "status": "idle", "progress": 0}
        assert [a["id"] for a in created["availableActions"]] == ["discover_topics", "select_topic"]
        async with socket(h, sid) as ws:
            started = await act(h, sid, "discover_topics", count=2)
            assert started.status_code == 202
            body = await started.get_json()
            assert body["status"] == "processing" and body["actionId"].startswith("job_")
            topics = (await ws.next("topics.discovered"))["data"]["topics"]
            assert [t["id"] for t in topics] == ["topic-1", "topic-2"]
            await settled(h, sid)

            chosen = await act(h, sid, "select_topic", topicId="topic-2")
            assert chosen.status_code == 200
            assert (await chosen.get_json())["progress"]["stage"] == "research"
            await ws.next("stage.change", to="research")

            assert (await act(h, sid, "research_topic")).status_code == 202
            notes = (await ws.next("research.completed"))["data"]["research"]
            assert notes["keyPoints"][0] == "Coffee was first brewed in Yemen."
            await ws.next("stage.change", to="writing")
            await settled(h, sid)

            assert (await act(h, sid, "write_article")).status_code == 202
            draft = (await ws.next("draft.updated"))["data"]["draft"]
            assert draft["version"] == 1 and "## Origins" in draft["markdown"]
            await settled(h, sid)

            edited = draft["markdown"].replace("## Today", "## Coffee today")
            assert (await act(h, sid, "edit_draft", markdown=edited)).status_code == 200
            assert (await ws.next("draft.updated"))["data"]["draft"]["version"] == 2

            assert (await act(h, sid, "advance")).status_code == 200
            assert (await act(h, sid, "apply_style", tone="playful")).status_code == 202
            styled = (await ws.next("draft.updated"))["data"]["draft"]
            assert styled["version"] == 3 and "## Coffee today" in styled["markdown"]
            await settled(h, sid)

            assert (await act(h, sid, "advance")).status_code == 200
            assert (await act(h, sid, "review_article")).status_code == 202
            review = (await ws.next("review.completed"))["data"]["review"]
            assert review["scores"]["clarity"] == 8
            await settled(h, sid)

            await ws.connection.send(json.dumps({"type": "request.suggestion", "data": {}}))
            ideas = (await ws.next("suggestion"))["data"]["suggestions"]
            assert ideas == IDEAS["suggestions"]

            assert (await act(h, sid, "approve")).status_code == 200
            await ws.next("stage.change")
            final = await state(h, sid)
            assert final["progress"]["status"] == "completed" and final["availableActions"] == []
            assert final["document"]["final"]["markdown"] == styled["markdown"]
            assert [d["version"] for d in final["document"]["history"]] == [1, 2, 3]

            ids = [f["metadata"]["eventId"] for f in ws.stored()]
            assert ids == sorted(set(ids)), "eventId strictly increasing"
            kinds = {f["type"] for f in ws.frames}
            assert {
                "stage.change",
                "progress.update",
                "topics.discovered",
                "research.completed",
                "draft.updated",
                "review.completed",
                "suggestion",
            } <= kinds


async def test_a_reconnect_with_last_event_id_misses_and_repeats_nothing(tmp_path: Path) -> None:
    async with app(tmp_path) as h:
        sid = (await create(h))["sessionId"]
        async with socket(h, sid) as first:
            await act(h, sid, "select_topic", title="Coffee in Japan")
            seen = await first.next("stage.change", to="research")
        last = seen["metadata"]["eventId"]
        assert (await act(h, sid, "advance")).status_code == 200  # while nobody listens
        async with socket(h, sid, lastEventId=last) as again:
            missed = await again.next("stage.change")
        assert missed["metadata"]["eventId"] == last + 1
        assert missed["data"] == {"from": "research", "to": "writing"}


async def test_two_clients_get_the_same_frames(tmp_path: Path) -> None:
    async with app(tmp_path) as h:
        sid = (await create(h))["sessionId"]
        async with socket(h, sid) as one, socket(h, sid) as two:
            await act(h, sid, "discover_topics", count=2)
            a = await one.next("topics.discovered")
            b = await two.next("topics.discovered")
        assert a == b


async def test_the_socket_refuses_who_may_not_follow(tmp_path: Path) -> None:
    async with app(tmp_path) as h:
        sid = (await create(h))["sessionId"]
        path = f"/api/genflow/sessions/{sid}/realtime"
        for first in (
            {"type": "auth", "token": "Bearer not-a-token"},
            {"type": "auth", "token": h.headers("mallory")["Authorization"]},
            {"type": "hello"},
        ):
            async with h.client.websocket(path) as ws:
                await ws.send(json.dumps(first))
                with pytest.raises(WebsocketDisconnectError) as closed:
                    await asyncio.wait_for(ws.receive(), 5)
                assert closed.value.args[0] == 1008, first


async def test_no_auth_frame_in_time_closes_1008(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_realtime, "AUTH_SECONDS", 0.2)
    async with app(tmp_path) as h:
        sid = (await create(h))["sessionId"]
        async with h.client.websocket(f"/api/genflow/sessions/{sid}/realtime") as ws:
            with pytest.raises(WebsocketDisconnectError) as closed:
                await asyncio.wait_for(ws.receive(), 5)
            assert closed.value.args[0] == 1008


async def test_a_malformed_client_frame_gets_an_error_frame_not_a_closed_socket(
    tmp_path: Path,
) -> None:
    async with app(tmp_path) as h:
        sid = (await create(h))["sessionId"]
        async with socket(h, sid) as ws:
            await ws.connection.send("{not json")
            error = await ws.next("error")
            assert error["data"]["code"] == "bad_frame"
            await ws.connection.send(
                json.dumps({"type": "feedback", "data": {"text": "More on Yemen"}})
            )
            await ws.connection.send(json.dumps({"type": "dance", "data": {}}))
            assert (await ws.next("error"))["data"]["code"] == "unknown_type"
        assert (await state(h, sid))["document"]["feedback"][0]["text"] == "More on Yemen"


async def test_conflicts_unknown_sessions_and_bad_input(tmp_path: Path) -> None:
    async with app(tmp_path, delay=0.5) as h:
        sid = (await create(h))["sessionId"]
        not_now = await act(h, sid, "write_article")
        assert not_now.status_code == 409
        error = (await not_now.get_json())["error"]
        assert [a["id"] for a in error["details"]["availableActions"]] == [
            "discover_topics",
            "select_topic",
        ]
        assert (await act(h, sid, "discover_topics", count=2)).status_code == 202
        busy = await act(h, sid, "select_topic", title="Tea")
        assert busy.status_code == 409
        assert (await busy.get_json())["error"]["details"]["availableActions"] == []
        assert (await act(h, sid, "discover_topics", count=99)).status_code == 422
        assert (await act(h, sid, "dance")).status_code == 422
        other = await h.client.get(f"/api/genflow/sessions/{sid}", headers=h.headers("mallory"))
        assert other.status_code == 404
        assert (await act(h, sid, "advance", sub="mallory")).status_code == 404
        bad = await h.client.post(
            "/api/genflow/sessions",
            json={"articleId": "a", "initialStage": "x"},
            headers=h.headers(),
        )
        assert bad.status_code == 422
        listed = await h.client.get("/api/genflow/sessions", headers=h.headers())
        assert [s["sessionId"] for s in (await listed.get_json())["sessions"]] == [sid]
        await settled(h, sid)


async def test_an_idle_session_expires_with_410(tmp_path: Path) -> None:
    clock = SessionClock()
    async with app(tmp_path, clock, session_ttl=60.0) as h:
        sid = (await create(h))["sessionId"]
        clock.advance(59)
        assert (await state(h, sid))["sessionId"] == sid  # idle, but not for long enough
        clock.advance(2)
        response = await h.client.get(f"/api/genflow/sessions/{sid}", headers=h.headers())
        assert response.status_code == 410
        assert (await response.get_json())["error"]["code"] == "expired"
        assert (await act(h, sid, "advance")).status_code == 410


async def test_session_flows_are_not_listed_or_startable_on_their_own(tmp_path: Path) -> None:
    async with app(tmp_path) as h:
        flows = await (await h.client.get("/api/flows", headers=h.headers())).get_json()
        assert not [f for f in flows["flows"] if f["name"].startswith("session.")]
        started = await h.client.post(
            "/api/jobs", json={"flow": "session.topics", "input": {}}, headers=h.headers()
        )
        assert started.status_code == 422


async def test_a_socket_on_a_session_that_expires_closes_4410(tmp_path: Path) -> None:
    clock = SessionClock()
    async with app(tmp_path, clock, session_ttl=60.0) as h:
        sid = (await create(h))["sessionId"]
        async with socket(h, sid) as ws:
            await ws.next("ping")  # a quiet tick: still open
            clock.advance(61)  # noticed at the next tick (every 0.5 s)
            with pytest.raises(WebsocketDisconnectError) as closed:
                async with asyncio.timeout(10):  # a ping or two, then the close
                    while True:
                        await ws.connection.receive()
        assert closed.value.args[0] == 4410


async def test_expired_sessions_lose_their_working_state_but_keep_a_final_article(
    tmp_path: Path,
) -> None:
    clock = SessionClock()
    async with app(tmp_path, clock, session_ttl=60.0) as h:
        done = (await create(h, initialStage="review", context={"topic": "Coffee"}))["sessionId"]
        edited = await act(h, done, "edit_draft", markdown="# Coffee\n\nA final word.")
        assert edited.status_code == 200
        assert (await act(h, done, "approve")).status_code == 200
        open_ = (await create(h, initialStage="writing", context={"topic": "Tea"}))["sessionId"]
        assert (await act(h, open_, "edit_draft", markdown="# Tea\n\nA draft.")).status_code == 200
        assert (await state(h, open_))["document"]["draft"]["markdown"] == "# Tea\n\nA draft."
        sessions = h.services.sessions
        clock.advance(59)
        assert await sessions.sweep() == 0  # idle, but not for long enough
        clock.advance(2)
        assert await sessions.sweep() == 2
        kept = await h.services.store.get_session(done)
        cleared = await h.services.store.get_session(open_)
        assert kept is not None and cleared is not None
        assert kept.document == {
            "final": {**kept.document["final"], "markdown": "# Coffee\n\nA final word."}
        }
        assert cleared.document == {}
        for sid in (done, open_):
            gone = await h.client.get(f"/api/genflow/sessions/{sid}", headers=h.headers())
            assert gone.status_code == 410
        assert await sessions.sweep() == 0  # done once


async def test_a_client_frame_is_handled_to_the_end_when_its_socket_goes() -> None:
    """Quart cancels a socket's handler when the client hangs up; a frame being handled
    then (a feedback note being saved, a suggestion job being created) still finishes."""
    saved = asyncio.Event()
    started = asyncio.Event()

    async def save() -> None:
        started.set()
        await asyncio.sleep(0)  # the handler is cancelled while this is in flight
        await asyncio.sleep(0)
        saved.set()

    handler = asyncio.create_task(session_realtime._even_if_closed(save()))
    await started.wait()
    handler.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handler
    await asyncio.wait_for(saved.wait(), 5)
