"""The Sessions view's handlers against a stub of the API client (no browser, no server):
what a click sends, and what the tab shows afterwards."""

from __future__ import annotations

from typing import Any, cast

import gradio as gr
import pytest

from backend.client import APIError, GenFlowClient
from ui import session_page
from ui.session_handlers import VIEW_OUTPUTS, SessionHandlers
from ui.session_view import SessionTab

ACTIONS = [
    {"id": "discover_topics", "text": "Discover topics", "action": "discover_topics"},
    {"id": "select_topic", "text": "Choose a topic", "action": "select_topic"},
]
NOTHING = dict.fromkeys(("topic_id", "own_title", "draft", "instructions", "tone", "feedback"))
REQUEST = gr.Request()  # a page event (the stub API stands for its person's client)


class StubAPI:
    def __init__(self) -> None:
        self.state: dict[str, Any] = {
            "sessionId": "ses_1",
            "progress": {"stage": "topic", "status": "idle", "progress": 0},
            "availableActions": ACTIONS,
            "capabilities": ["suggestions"],
            "document": {"topics": [{"id": "t1", "title": "Coffee", "angle": "Why"}]},
            "lastEventId": 1,
        }
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.created: list[tuple[str, dict[str, Any]]] = []
        self.refuse: APIError | None = None

    async def create_session(self, article_id: str, *, context: dict[str, Any]) -> dict[str, Any]:
        self.created.append((article_id, context))
        return {"sessionId": "ses_1"}

    async def session(self, session_id: str) -> dict[str, Any]:
        return self.state

    async def sessions(self, *, limit: int) -> dict[str, Any]:
        return {"sessions": [self.state]}

    async def session_action(
        self, session_id: str, action: str, parameters: dict[str, Any]
    ) -> dict[str, Any]:
        if self.refuse is not None:
            raise self.refuse
        self.sent.append((action, parameters))
        if action == "select_topic":
            self.state = {**self.state, "progress": {"stage": "research", "status": "idle"}}
            return {"status": "idle", "session": self.state}
        self.state = {**self.state, "progress": {"stage": "topic", "status": "processing"}}
        return {"actionId": "job_1", "status": "processing"}

    async def suggestions(self, session_id: str) -> list[str]:
        if self.refuse is not None:
            raise self.refuse
        return ["A", "B", "C"]


@pytest.fixture
def api() -> StubAPI:
    return StubAPI()


@pytest.fixture
def handlers(api: StubAPI) -> SessionHandlers:
    return SessionHandlers(lambda request: cast(GenFlowClient, api))  # one person's client


def opened(api: StubAPI) -> SessionTab:
    tab = SessionTab()
    tab.open(api.state)
    return tab


def test_the_outputs_fit_the_pages_components(handlers: SessionHandlers, api: StubAPI) -> None:
    with gr.Blocks():
        page = session_page.build()
    for tab in (SessionTab(), opened(api)):
        assert len(handlers.outputs(tab)) == len(page.view()) == VIEW_OUTPUTS


async def test_a_new_session_is_opened_and_the_box_emptied(
    handlers: SessionHandlers, api: StubAPI
) -> None:
    tab = SessionTab()
    out = await handlers.create("  The history of coffee ", tab, REQUEST)
    assert api.created[0][1] == {"category": "The history of coffee"}
    assert api.created[0][0].startswith("web-the-history-of-coffee-")
    assert tab.session_id == "ses_1" and out[1] == "ses_1" and out[-1] == ""


async def test_an_action_without_what_it_needs_is_explained_not_sent(
    handlers: SessionHandlers, api: StubAPI
) -> None:
    tab = opened(api)
    await handlers.actor(1)(REQUEST, tab, count=None, section=None, **NOTHING)  # no topic picked
    assert api.sent == [] and tab.notice == "⚠ Pick a topic first, or type a title of your own."


async def test_a_change_shows_the_session_it_returns(
    handlers: SessionHandlers, api: StubAPI
) -> None:
    tab = opened(api)
    out = await handlers.actor(1)(
        REQUEST, tab, count=None, section=None, **{**NOTHING, "topic_id": "t1"}
    )
    assert api.sent == [("select_topic", {"topicId": "t1"})]
    assert tab.stage == "research" and tab.notice is None
    assert out[-3:] == ("", "", "")  # the own title, instructions and feedback boxes empty


async def test_a_model_action_shows_the_session_working(
    handlers: SessionHandlers, api: StubAPI
) -> None:
    tab = opened(api)
    await handlers.actor(0)(REQUEST, tab, count=2, section=None, **NOTHING)
    assert api.sent == [("discover_topics", {"count": 2})]
    assert tab.status == "processing" and tab.actions == []


async def test_an_action_taken_elsewhere_first_is_explained(
    handlers: SessionHandlers, api: StubAPI
) -> None:
    tab = opened(api)
    api.refuse = APIError(409, "conflict", "'discover_topics' is not available now")
    await handlers.actor(0)(REQUEST, tab, count=2, section=None, **NOTHING)
    assert tab.notice == "⚠ Not possible now: 'discover_topics' is not available now"
    await handlers.actor(5)(REQUEST, tab, count=2, section=None, **NOTHING)  # no such button now
    assert api.sent == []


async def test_ideas_are_asked_for_then_shown(handlers: SessionHandlers, api: StubAPI) -> None:
    tab = opened(api)
    shown = [ideas async for ideas, _status in handlers.suggest(tab, REQUEST)]
    assert "Asking" in shown[0] and shown[-1] == "**Ideas**\n\n- A\n- B\n- C"
    api.refuse = APIError(504, "timeout", "no ideas within 120 s")
    [_ async for _ in handlers.suggest(tab, REQUEST)]
    assert tab.notice == "⚠ No ideas within 120 s" and not tab.asking
