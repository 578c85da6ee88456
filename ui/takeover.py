"""Only the newest follower of a tab may update it.

A tab starts following (a job, a session) from several places: a new action, a decision,
a timer, a reload. `take_over()` hands out a fresh inbox and wakes the previous follower
with STOP, so it ends without rendering again.
"""

from __future__ import annotations

import asyncio
from typing import Any

STOP = object()  # put in a follower's inbox: another follower took over, or the tab closed


class TakeOver:
    """Mixed into a tab's state, which declares `inbox` (None while nobody follows)."""

    inbox: asyncio.Queue[Any] | None

    @property
    def following(self) -> bool:
        return self.inbox is not None

    def take_over(self) -> asyncio.Queue[Any]:
        self.stop_following()
        self.inbox = asyncio.Queue()
        return self.inbox

    def release(self, inbox: asyncio.Queue[Any]) -> None:
        if self.inbox is inbox:
            self.inbox = None

    def stop_following(self) -> None:
        if self.inbox is not None:
            self.inbox.put_nowait(STOP)
            self.inbox = None
