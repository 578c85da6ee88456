"""One browser tab's GenFlow session: the session it shows, folded from the realtime frames.

Not to be confused with `ui.session.Session`, the chat's tab state. The document comes
from the API (`GET /api/genflow/sessions/{id}`, or the socket's `session.state` frame):
after a stored frame the tab is marked `stale` and re-reads it, so the page never
re-implements what an action does to the document. Only what the API does not keep is
folded here: the running action's streamed text and progress lines, and the ideas of
the last `suggestion` frame (asked for on any page of the session).

As in the chat, only the newest follower of a tab may update it (`take_over`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ui.takeover import STOP as STOP
from ui.takeover import TakeOver

LIVE_CHARS = 4000  # the streamed text kept on the page: the end of it, as it is written
LIVE_LINES = 6


@dataclass
class Live:
    """The running action as it works: its progress lines and the model's text so far."""

    action_id: str | None = None
    lines: list[str] = field(default_factory=list)
    text: str = ""
    progress: int | None = None

    def add_text(self, text: str) -> None:
        self.text = (self.text + text)[-LIVE_CHARS:]

    def add_line(self, line: str) -> None:
        if line and (not self.lines or self.lines[-1] != line):
            self.lines = [*self.lines, line][-LIVE_LINES:]


@dataclass
class SessionTab(TakeOver):
    session_id: str | None = None
    state: dict[str, Any] | None = None  # what GET /api/genflow/sessions/{id} answered
    last_event_id: int = 0  # the last stored frame this tab has applied
    stale: bool = False  # a stored frame arrived after `state` was read
    live: Live = field(default_factory=Live)
    ideas: list[str] = field(default_factory=list)
    asking: bool = False  # this page asked for ideas and waits for them
    notice: str | None = None  # what this page says about the last thing done (plain text)
    problem: str | None = None  # a connection problem, shown until the API answers again
    inbox: asyncio.Queue[Any] | None = None  # the current follower's

    # -- what the session is now ------------------------------------------------------

    @property
    def progress(self) -> dict[str, Any]:
        return (self.state or {}).get("progress") or {}

    @property
    def status(self) -> str | None:
        return self.progress.get("status")

    @property
    def stage(self) -> str | None:
        return self.progress.get("stage")

    @property
    def document(self) -> dict[str, Any]:
        return (self.state or {}).get("document") or {}

    @property
    def draft_key(self) -> str:
        """Names the draft the editor should hold: a new one replaces the person's text."""
        version = (self.document.get("draft") or {}).get("version")
        return f"{self.session_id}:{version}" if self.session_id and version else ""

    @property
    def topics_key(self) -> str:
        """Names the topics the picker should offer: new ones replace the choices."""
        ids = [str(t.get("id")) for t in self.document.get("topics") or []]
        return f"{self.session_id}:{','.join(ids)}" if self.session_id and ids else ""

    @property
    def actions(self) -> list[dict[str, Any]]:
        """The API's `availableActions`: nothing while an action runs."""
        if self.status == "processing":
            return []
        return list((self.state or {}).get("availableActions") or [])

    @property
    def settled(self) -> bool:
        """Nothing left to follow: no action running, every stored frame seen and read."""
        if self.state is None:
            return True
        return (
            self.status != "processing"
            and not self.stale
            and self.last_event_id >= int(self.state.get("lastEventId") or 0)
        )

    # -- changes ----------------------------------------------------------------------

    def open(self, state: dict[str, Any]) -> None:
        """Show this session (from GET); frames before it need not be replayed."""
        self.stop_following()
        self.session_id = state["sessionId"]
        self.state, self.stale = state, False
        self.last_event_id = int(state.get("lastEventId") or 0)
        self.live, self.ideas, self.asking = Live(), [], False
        self.notice = self.problem = None

    def drop(self, reason: str) -> None:
        """The session cannot be shown (unknown, not ours, expired): say why instead."""
        self.stop_following()
        self.session_id, self.state, self.stale = None, None, False
        self.live, self.ideas, self.asking = Live(), [], False
        self.notice, self.problem = reason, None

    def read(self, state: dict[str, Any]) -> None:
        """A fresh copy of the session from the API."""
        if state.get("sessionId") != self.session_id:
            return
        before, stage = self.live.action_id, self.stage
        self.state, self.stale = state, False
        if self.stage != stage or self.status == "completed":  # ideas were for that stage
            self.ideas = []
        running = state.get("activeActionId")
        if running and running != before:
            self.live = Live(action_id=running)

    def apply(self, frame: dict[str, Any]) -> None:
        """Fold one realtime frame."""
        kind, data = frame.get("type"), frame.get("data") or {}
        event_id = (frame.get("metadata") or {}).get("eventId")
        if kind == "session.state":
            self.read(data)
            return
        if event_id is not None:  # stored: it changed the session (or told of ideas)
            self.last_event_id = max(self.last_event_id, int(event_id))
            self.stale = True
        if kind == "llm.delta":
            self.live.add_text(str(data.get("text") or ""))
        elif kind == "progress.update":
            self._progress(data, stored=event_id is not None)
        elif kind == "suggestion":
            self.ideas = [str(s) for s in data.get("suggestions") or []]
        elif kind == "error":
            self.notice = f"⚠ {data.get('message') or data.get('code') or 'error'}"

    def _progress(self, data: dict[str, Any], *, stored: bool) -> None:
        if stored and data.get("status") == "processing":  # an action starts: a fresh panel
            self.live = Live(action_id=data.get("actionId"))
            self.notice = None
        if data.get("message"):
            self.live.add_line(str(data["message"]))
        if isinstance(data.get("progress"), int):
            self.live.progress = data["progress"]
