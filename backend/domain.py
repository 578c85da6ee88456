"""The records every part of the backend passes around: jobs, reviews, artifacts.

Plain dataclasses (not ORM rows) so that the API, the runner and the tests share one
vocabulary independent of the storage backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    PENDING = "pending"  # created, not yet picked up by a worker
    RUNNING = "running"  # a worker owns it (or will, after a crash, on start-up)
    WAITING_FOR_REVIEW = "waiting_for_review"  # parked at a review gate; no task held
    COMPLETED = "completed"  # terminal: result is set
    FAILED = "failed"  # terminal: error is set
    CANCELLED = "cancelled"  # terminal: somebody cancelled it

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Review:
    """An open (or decided) request for a human decision at a review gate."""

    id: str
    node: str
    prompt: str
    options: list[str]
    payload: dict[str, Any]
    requested_at: datetime
    decision: str | None = None
    comment: str | None = None
    decided_by: str | None = None
    decided_via: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "node": self.node,
            "prompt": self.prompt,
            "options": list(self.options),
            "payload": self.payload,
            "requested_at": isoformat(self.requested_at),
        }


@dataclass
class Checkpoint:
    """Where a job stands: the shared store and the node to run next."""

    shared: dict[str, Any] = field(default_factory=dict)
    next_node: str | None = None
    # Runner bookkeeping: node visit counts, the decision handed to a gate, etc.
    runtime: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    id: str
    flow: str
    status: JobStatus
    input: dict[str, Any]
    owner: str
    created_at: datetime
    updated_at: datetime
    progress: int = 0
    current_node: str | None = None
    review: Review | None = None
    result: Any = None
    error: dict[str, str] | None = None
    session_id: str | None = None
    workflow_id: str | None = None
    attempts: int = 0
    last_seq: int = 0
    checkpoint: Checkpoint = field(default_factory=Checkpoint)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "flow": self.flow,
            "status": self.status.value,
            "input": self.input,
            "owner": self.owner,
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
            "progress": self.progress,
            "current_node": self.current_node,
            "review": self.review.to_json() if self.review else None,
            "result": self.result,
            "error": self.error,
            "session_id": self.session_id,
            "workflow_id": self.workflow_id,
            "last_seq": self.last_seq,
        }


@dataclass
class Artifact:
    id: str
    job_id: str
    owner: str
    kind: str  # image | markdown | text
    mime: str
    name: str
    size: int
    created_at: datetime
    data: bytes | None = None

    @property
    def url(self) -> str:
        return f"/api/artifacts/{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "kind": self.kind,
            "mime": self.mime,
            "name": self.name,
            "size": self.size,
            "url": self.url,
            "created_at": isoformat(self.created_at),
        }
