"""The follower of a tab's GenFlow session, against a stub of the API client: what it
renders, when it ends, and who may update the tab."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from backend.client import APIError, GenFlowClient, Unreachable
from ui import session_live
from ui.session_view import SessionTab


class StubAPI:
    """One session: its state for GET, and a socket the test feeds frame by frame."""

    def __init__(self, **progress: Any) -> None:
        self.state: dict[str, Any] = {
            "sessionId": "ses_1",
            "progress": {"stage": "writing", "status": "idle", "progress": 40, **progress},
            "availableActions": [],
            "document": {},
            "lastEventId": 2,
        }
        self.frames: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self.reads = 0
        self.down = False
        self.sockets = 0

    def set(self, *, status: str = "idle", last: int | None = None, **document: Any) -> None:
        self.state = {
            **self.state,
            "progress": {**self.state["progress"], "status": status},
            "document": {**self.state["document"], **document},
            "lastEventId": self.state["lastEventId"] if last is None else last,
        }

    def send(self, kind: str, event_id: int | None, **data: Any) -> None:
        self.frames.put_nowait({"type": kind, "data": data, "metadata": {"eventId": event_id}})

    async def session(self, session_id: str) -> dict[str, Any]:
        self.reads += 1
        if self.down:
            raise Unreachable("http://api", "connection refused")
        return self.state

    async def session_frames(
        self, session_id: str, last_event_id: int = 0
    ) -> AsyncIterator[dict[str, Any]]:
        self.sockets += 1
        yield {"type": "session.state", "data": self.state, "metadata": {"eventId": 0}}
        while True:
            item = await self.frames.get()
            if isinstance(item, BaseException):
                raise item
            yield item


def opened(api: StubAPI) -> SessionTab:
    tab = SessionTab()
    tab.open(api.state)
    return tab


async def run(api: StubAPI, tab: SessionTab, **kwargs: Any) -> int:
    """Follow to the end; how many times it rendered."""
    renders = 0
    client = cast(GenFlowClient, api)
    async for _ in session_live.follow(client, tab, **kwargs):
        renders += 1
    return renders


async def test_a_settled_session_is_rendered_once_and_left() -> None:
    api = StubAPI()
    tab = opened(api)
    assert await run(api, tab) == 1
    assert not tab.following and api.reads == 0


async def test_an_action_streams_until_its_result_is_read() -> None:
    api = StubAPI(status="processing")
    api.state["activeActionId"] = "job_1"
    tab = opened(api)
    api.send("llm.delta", None, text="Legend says")
    api.send("progress.update", None, message="Rewriting", progress=50)
    seen: list[str] = []

    async def watch() -> None:
        async for _ in session_live.follow(cast(GenFlowClient, api), tab):
            seen.append(tab.live.text)
            if tab.live.text and len(seen) == 1:  # the action ends after the first render
                api.set(status="idle", last=4, draft={"markdown": "# Styled", "version": 3})
                api.send("draft.updated", 3)
                api.send("progress.update", 4, status="idle", progress=100)

    await asyncio.wait_for(watch(), 5)
    assert "Legend says" in seen[0]
    assert tab.status == "idle" and tab.document["draft"]["version"] == 3
    assert tab.last_event_id == 4 and tab.settled and not tab.following
    assert api.reads >= 1  # the document came from GET after the stored frames


async def test_a_gone_session_is_dropped_with_the_reason() -> None:
    api = StubAPI(status="processing")
    tab = opened(api)
    api.frames.put_nowait(APIError(410, "expired", "session expired"))
    assert await asyncio.wait_for(run(api, tab), 5) >= 1
    assert tab.session_id is None
    assert tab.notice == "⚠ This session expired (it was idle too long). Start a new one."


async def test_a_quiet_socket_notices_the_api_is_gone_and_back() -> None:
    api = StubAPI(status="processing")
    tab = opened(api)
    api.down = True
    renders = 0
    async for _ in session_live.follow(cast(GenFlowClient, api), tab, idle=0.01):
        renders += 1
        if tab.problem == session_live.LOST:
            api.down = False
            api.set(status="idle")
    assert tab.problem is None and tab.settled and renders >= 2


async def test_a_new_follower_takes_over_and_the_old_one_ends_quietly() -> None:
    api = StubAPI(status="processing")
    tab = opened(api)
    client = cast(GenFlowClient, api)
    first = session_live.follow(client, tab)
    await anext(first)  # rendered the session.state
    second = session_live.follow(client, tab)
    await anext(second)  # takes over: the first is told to stop
    assert await anext(first, "ended") == "ended"
    assert tab.following
    await second.aclose()
    assert not tab.following


async def test_changed_asks_for_a_follower_when_frames_were_stored_or_an_action_runs() -> None:
    api = StubAPI()
    tab = opened(api)
    client = cast(GenFlowClient, api)
    assert not await session_live.changed(client, tab)
    api.set(last=3)  # say, ideas asked for on another page
    assert await session_live.changed(client, tab)
    api.set(last=2, status="processing")  # an action started elsewhere
    assert await session_live.changed(client, tab)
    tab.take_over()
    assert not await session_live.changed(client, tab)  # a follower already runs
