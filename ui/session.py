"""One browser tab's state: which job it shows, and which follower may update it.

A tab can start following its job from several places (a new job, a decision, the review
timer, a reload); only the newest follower may touch the view. `take_over()` hands out a
fresh inbox and wakes the previous follower with STOP, so it ends without rendering again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ui.conversation import ChatView, Message, Note
from ui.takeover import STOP as STOP
from ui.takeover import TakeOver


@dataclass
class Session(TakeOver):
    flows: list[dict[str, Any]] = field(default_factory=list)
    view: ChatView | None = None
    notes: list[Message] = field(default_factory=list)  # chat lines before any job
    problem: str | None = None  # a connection problem, shown in the status bar
    inbox: asyncio.Queue[Any] | None = None  # the current follower's

    def titles(self) -> dict[str, str]:
        return {flow["name"]: flow.get("title") or flow["name"] for flow in self.flows}

    def open(self, view: ChatView) -> None:
        """Show another job; whoever follows the previous one stops."""
        self.stop_following()
        self.view, self.notes = view, []

    def drop_view(self, reason: str) -> None:
        """The job cannot be shown (unknown, not ours): show why instead. The follower stays."""
        self.view, self.notes = None, [{"role": "assistant", "content": reason}]

    def say(self, markdown: str, *, user: str | None = None) -> None:
        """Add lines to the conversation that are not job events (help, refusals)."""
        lines = ([Note(user, role="user")] if user else []) + [Note(markdown)]
        if self.view is not None:
            self.view.say(*lines)
        else:
            self.notes.extend(note.message() for note in lines)
