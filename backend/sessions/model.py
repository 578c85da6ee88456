"""A session and its frames, as the store keeps them.

A session is one article made in stages (topic -> research -> writing -> styling ->
review). Model-backed actions run as jobs (`active_job_id`); the session's `document`
holds what the stages produced. `version` increases with every change, so concurrent
writers (two API replicas, a worker applying a job's result) compare-and-set instead of
overwriting each other. Frames are the session's own event log: `event_id` increases per
session, and is stored, so a client that reconnects with `lastEventId` misses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.domain import isoformat, utcnow

STAGES = ("topic", "research", "writing", "styling", "review")
STATUSES = ("idle", "processing", "error", "completed")


@dataclass
class Session:
    id: str
    owner: str
    article_id: str
    stage: str
    status: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    progress: int = 0
    current_step: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)
    last_message: str | None = None
    active_job_id: str | None = None
    active_action: str | None = None
    last_event_id: int = 0
    version: int = 1


@dataclass(frozen=True)
class NewFrame:
    """A frame about to be appended; the store gives it its event id."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Frame:
    session_id: str
    event_id: int | None  # None: a live-only frame (streamed text), never stored
    type: str
    data: dict[str, Any]
    ts: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "data": self.data,
            "metadata": {
                "timestamp": isoformat(self.ts),
                "eventId": self.event_id,
                "sessionId": self.session_id,
            },
        }
