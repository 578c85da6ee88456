"""`MessageView`: what a job's Slack message shows — the shared `JobView`, plus Slack's own
state (who started the job, the title, which artifacts went where in Slack).

`backend.job_view` folds the job's events (the same fold the web chat and the CLI use), so
a restarted bot rebuilds the same message by replaying them. Pure data: no Slack, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from backend.client import Artifact, Decision, Event, JobView


@dataclass
class Upload:
    """Where an artifact went in Slack."""

    file_id: str | None = None  # the Slack file, when it was uploaded
    permalink: str | None = None
    posted: bool = False  # shown in the thread (uploaded, or posted as a message)


@dataclass
class MessageView:
    job_id: str
    flow: str
    title: str
    starter: str  # Slack user id of who started the job
    job: JobView = field(init=False)
    uploads: dict[str, Upload] = field(default_factory=dict)  # by artifact id
    gone: bool = False  # GenFlow no longer has the job (or no longer shows it to the bot)

    def __post_init__(self) -> None:
        self.job = JobView(self.job_id, flow=self.flow)

    def apply(self, event: Event) -> None:
        """Fold one event (live `llm.delta` ones included) into the view."""
        self.job = self.job.apply(event)

    @property
    def status(self) -> str:
        return "failed" if self.gone else self.job.status

    @property
    def finished(self) -> bool:
        return self.gone or self.job.finished

    @property
    def error(self) -> dict[str, Any] | None:
        """What went wrong, as the message says it (a cancel reads as an error too)."""
        if self.gone:
            return {"type": "Gone", "message": "GenFlow no longer has this job"}
        if self.job.status == "cancelled":
            return {"type": "Cancelled", "message": f"cancelled by {self.job.cancelled_by or '?'}"}
        return self.job.error

    @property
    def progress(self) -> int:
        return self.job.progress

    @property
    def last_seq(self) -> int:
        return self.job.last_seq

    @property
    def node(self) -> str | None:
        return self.job.node

    @property
    def message(self) -> str | None:
        return self.job.message

    @property
    def review(self) -> dict[str, Any] | None:
        return self.job.review

    @property
    def last_decision(self) -> Decision | None:
        return self.job.last_decision

    @property
    def result(self) -> Any:
        return self.job.result

    @property
    def images(self) -> tuple[Artifact, ...]:
        return self.job.images

    def artifact(self, artifact_id: str | None) -> Artifact | None:
        return self.job.artifact(artifact_id)

    def upload(self, artifact_id: str) -> Upload:
        """Where the artifact went in Slack (nowhere yet: an empty `Upload`)."""
        return self.uploads.setdefault(artifact_id, Upload())


def step_label(node: str | None) -> str:
    """`GenerateOutline` -> `Generate outline`: node names read as steps."""
    if not node:
        return ""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", node).split()
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else node
