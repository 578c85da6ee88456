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
    """An open (or decided) request for a human decision at a review gate.

    `assignees` may decide it besides the job's owner and admins; `editable` names the
    payload fields an `edit` decision may change; with a `deadline`, `on_timeout` (one of
    the options, or `cancel`) is applied when it passes, and a reminder goes out at
    `remind_at` (half time)."""

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
    assignees: list[str] = field(default_factory=list)
    editable: list[str] = field(default_factory=list)
    deadline: datetime | None = None
    on_timeout: str | None = None
    remind_at: datetime | None = None
    reminded_at: datetime | None = None
    decided_at: datetime | None = None
    edits: dict[str, Any] | None = None  # an `edit` decision's changed payload fields
    diff: dict[str, str] | None = None  # a unified diff per changed text field

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "node": self.node,
            "prompt": self.prompt,
            "options": list(self.options),
            "payload": self.payload,
            "requested_at": isoformat(self.requested_at),
            "assignees": list(self.assignees),
            "editable": list(self.editable),
            "deadline": isoformat(self.deadline) if self.deadline else None,
            "on_timeout": self.on_timeout if self.deadline else None,
            "reminded_at": isoformat(self.reminded_at) if self.reminded_at else None,
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
    # Per-job review terms (POST /api/jobs): assignees of every review, and a deadline
    # (seconds) with its action, overriding the flow's defaults.
    reviewers: list[str] = field(default_factory=list)
    review_timeout: float | None = None
    on_timeout: str | None = None

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
            "reviewers": list(self.reviewers),
            "review_timeout": self.review_timeout,
            "on_timeout": self.on_timeout,
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
