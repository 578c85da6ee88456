"""`SessionView`: what a GenFlow session's Slack message shows, folded from its frames.

The session's state is what the API says (`session.state` frames and `GET`), never a copy
the bot recomputes: a stored frame newer than the state only marks the view `stale`, and
the follower re-reads the session before the next edit (one read per burst of frames).
Only what the API does not say is folded from the frames: which draft version the latest
review read (so a review of an older draft is not shown as the current one's).
The running action's live relays (`progress.update` without an eventId, `llm.delta`) are
kept on the side, for the status line. Pure data: no Slack, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bots.session_store import Click

STAGES = ("topic", "research", "writing", "styling", "review")
ENDED = {
    "gone": "This session no longer exists in GenFlow.",
    "expired": "This session expired after being left idle; start a new one with `/session`.",
}


@dataclass
class SessionView:
    session_id: str
    subject: str
    starter: str  # Slack user id of who started the session
    state: dict[str, Any] | None = None  # what GET /api/genflow/sessions/{id} returns
    state_event_id: int = 0  # the last stored frame `state` includes
    frames_event_id: int = 0  # the last stored frame folded into the view
    draft_seen: int = 0  # the latest draft version the frames announced
    reviewed: int | None = None  # the draft version the latest review is about
    live: dict[str, Any] | None = None  # the latest progress relay of a running action
    streamed: tuple[str | None, int] = (None, 0)  # (actionId, characters of model text)
    clicks: list[Click] = field(default_factory=list)
    ended: str | None = None  # "gone" or "expired": no more updates will come

    def apply(self, frame: dict[str, Any]) -> None:
        """Fold one realtime frame into the view."""
        kind, data = frame.get("type"), frame.get("data") or {}
        event_id = (frame.get("metadata") or {}).get("eventId")
        if kind == "session.state":
            self.refreshed(data, event_id)
        elif event_id is None:  # a live relay of the running action
            if kind == "progress.update":
                self.live = data
            elif kind == "llm.delta":
                action_id, count = self.streamed
                count = count if action_id == data.get("actionId") else 0
                self.streamed = (data.get("actionId"), count + len(data.get("text") or ""))
        elif event_id > self.frames_event_id:
            self.frames_event_id = event_id
            if kind == "draft.updated":
                self.draft_seen = int((data.get("draft") or {}).get("version") or 0)
            elif kind == "review.completed":  # the API does not say which draft it read
                self.reviewed = self.draft_seen

    def refreshed(self, state: dict[str, Any], event_id: int | None = None) -> None:
        """A fresh state from the API (the frame's eventId, or the state's own)."""
        self.state = state
        self.state_event_id = max(self.state_event_id, event_id or state.get("lastEventId") or 0)

    @property
    def stale(self) -> bool:
        """A stored frame arrived that the state does not include yet."""
        return self.state is None or self.frames_event_id > self.state_event_id

    @property
    def finished(self) -> bool:
        return self.ended is not None or self.status == "completed"

    # -- the state, as the message reads it ---------------------------------------------

    @property
    def progress(self) -> dict[str, Any]:
        return (self.state or {}).get("progress") or {}

    @property
    def stage(self) -> str:
        return self.progress.get("stage") or "topic"

    @property
    def status(self) -> str:
        return self.progress.get("status") or "idle"

    @property
    def document(self) -> dict[str, Any]:
        return (self.state or {}).get("document") or {}

    @property
    def actions(self) -> list[dict[str, Any]]:
        """Exactly what the API offers now (nothing while processing, or once ended)."""
        if self.ended is not None or self.state is None:
            return []
        return list(self.state.get("availableActions") or [])

    @property
    def active_action_id(self) -> str | None:
        return (self.state or {}).get("activeActionId")

    @property
    def running(self) -> tuple[str | None, int | None, int]:
        """The running action's latest progress line, percent, and streamed characters
        (relays of an action that is no longer running do not count)."""
        active = self.active_action_id
        if self.status != "processing" or active is None:
            return None, None, 0
        live = self.live if (self.live or {}).get("actionId") == active else {}
        chars = self.streamed[1] if self.streamed[0] == active else 0
        return live.get("message"), live.get("progress"), chars

    @property
    def last_message(self) -> str:
        return (self.state or {}).get("lastMessage") or ""

    def last_click(self, action: str | None = None) -> Click | None:
        """The latest Slack click (of `action`, when given)."""
        found = [c for c in self.clicks if action is None or c.action == action]
        return found[-1] if found else None
