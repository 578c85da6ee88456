"""`JobView`: what a job's Slack message shows, folded from the job's events.

Events are the one source of the display (DESIGN §4), so a restarted bot rebuilds the
same view by replaying them. Pure data: no Slack, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class Artifact:
    id: str
    kind: str  # image | markdown | text
    name: str
    mime: str
    file_id: str | None = None  # the Slack file once uploaded
    permalink: str | None = None
    posted: bool = False  # shown in the thread (uploaded, or posted as a message)


@dataclass
class Decision:
    decision: str
    by: str
    via: str
    comment: str | None = None


@dataclass
class JobView:
    job_id: str
    flow: str
    title: str
    starter: str  # Slack user id of who started the job
    status: str = "pending"
    progress: int = 0
    node: str | None = None
    message: str | None = None  # the current node's latest progress message
    review: dict[str, Any] | None = None  # the open review request
    last_decision: Decision | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    artifacts: list[Artifact] = field(default_factory=list)
    last_seq: int = 0

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def images(self) -> list[Artifact]:
        return [a for a in self.artifacts if a.kind == "image"]

    def artifact(self, artifact_id: str | None) -> Artifact | None:
        return next((a for a in self.artifacts if a.id == artifact_id), None)

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event (live `llm.delta` ones included) into the view."""
        kind, data = event["type"], event.get("data") or {}
        if event.get("seq") is not None:
            self.last_seq = max(self.last_seq, event["seq"])
        if isinstance(event.get("progress"), int | float):
            self.progress = int(event["progress"])
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is not None:
            handler(data)

    def _on_job_started(self, data: dict[str, Any]) -> None:
        self.status = "running"

    def _on_node_started(self, data: dict[str, Any]) -> None:
        if data.get("node") != self.node:
            self.message = None
        self.node = data.get("node")

    def _on_node_progress(self, data: dict[str, Any]) -> None:
        self.node = data.get("node") or self.node
        self.message = data.get("message") or self.message

    def _on_artifact_created(self, data: dict[str, Any]) -> None:
        if self.artifact(data.get("artifact_id")) is None:
            self.artifacts.append(
                Artifact(
                    id=data["artifact_id"],
                    kind=data.get("kind", "text"),
                    name=data.get("name") or data["artifact_id"],
                    mime=data.get("mime", "application/octet-stream"),
                )
            )

    def _on_review_requested(self, data: dict[str, Any]) -> None:
        self.status = "waiting_for_review"
        self.review = data
        self.message = None

    def _on_review_decided(self, data: dict[str, Any]) -> None:
        self.status = "running"
        self.review = None
        self.last_decision = Decision(
            decision=data.get("decision", "?"),
            by=data.get("by") or "someone",
            via=data.get("via") or "api",
            comment=data.get("comment"),
        )

    def _on_job_completed(self, data: dict[str, Any]) -> None:
        self.status, self.review, self.progress = "completed", None, 100
        self.result = data.get("result")

    def _on_job_failed(self, data: dict[str, Any]) -> None:
        self.status, self.review = "failed", None
        self.error = data.get("error") or {"type": "Error", "message": "the job failed"}

    def _on_job_cancelled(self, data: dict[str, Any]) -> None:
        self.status, self.review = "cancelled", None
        self.error = {"type": "Cancelled", "message": f"cancelled by {data.get('by', '?')}"}


def step_label(node: str | None) -> str:
    """`GenerateOutline` -> `Generate outline`: node names read as steps."""
    if not node:
        return ""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", node).split()
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else node
