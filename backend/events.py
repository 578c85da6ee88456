"""Job events: the one source of every progress display.

Durable events carry a contiguous per-job `seq` (assigned by the store when they are
appended); `llm.delta` events are live-only and have `seq = None`. One `encode_*` per
transport, so SSE and WebSocket always send the same object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from backend import fast_json
from backend.domain import isoformat, utcnow


class EventType(StrEnum):
    JOB_CREATED = "job.created"
    JOB_STARTED = "job.started"
    NODE_STARTED = "node.started"
    NODE_PROGRESS = "node.progress"
    LLM_DELTA = "llm.delta"
    NODE_RETRY = "node.retry"
    NODE_FINISHED = "node.finished"
    ARTIFACT_CREATED = "artifact.created"
    REVIEW_REQUESTED = "review.requested"
    REVIEW_DECIDED = "review.decided"
    REVIEW_REMINDER = "review.reminder"  # half of a review's time is gone (durable)
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    # Never stored with a job: rings a GenFlow session's followers (its channel is the
    # session id) when the session has new frames in the store.
    SESSION_FRAME = "session.frame"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_EVENTS


TERMINAL_EVENTS = frozenset(
    {EventType.JOB_COMPLETED, EventType.JOB_FAILED, EventType.JOB_CANCELLED}
)


@dataclass
class NewEvent:
    """An event about to be appended; the store gives it its seq and progress."""

    type: EventType
    data: dict[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Event:
    job_id: str
    type: EventType
    data: dict[str, Any]
    ts: datetime
    progress: int
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "job_id": self.job_id,
            "type": self.type.value,
            "ts": isoformat(self.ts),
            "progress": self.progress,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Event:
        """The inverse of `to_json`: events crossing processes (Redis fan-out)."""
        return cls(
            job_id=raw["job_id"],
            type=EventType(raw["type"]),
            data=raw["data"],
            ts=datetime.fromisoformat(raw["ts"]),
            progress=raw["progress"],
            seq=raw["seq"],
        )

    def encode_json(self) -> str:
        """The event as compact JSON, made once per event however many followers it is
        sent to (events are not changed once made; the cache writes past `frozen`)."""
        return self._json

    def encode_sse(self) -> str:
        head = f"id: {self.seq}\n" if self.seq is not None else ""
        return f"{head}event: {self.type.value}\ndata: {self.encode_json()}\n\n"

    def sse_bytes(self) -> bytes:
        """`encode_sse()` as bytes, likewise made once per event."""
        return self._sse_bytes

    @cached_property
    def _json(self) -> str:
        return fast_json.dumps(self.to_json(), default=str)

    @cached_property
    def _sse_bytes(self) -> bytes:
        return self.encode_sse().encode()
