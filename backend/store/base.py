"""The storage interface the runtime and the API are written against.

Every state change of a job goes through `update_job`, which applies the change and
appends its events in ONE transaction, conditional on the job's current status. That is
what makes checkpoints atomic with their events, the first review decision win, and a
cancelled job's late checkpoint a no-op.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from backend.domain import Artifact, Checkpoint, Job, JobStatus, Review
from backend.events import Event, NewEvent


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass
class JobUpdate:
    """Fields to change on a job; anything left UNSET is kept."""

    status: JobStatus = UNSET
    progress: int = UNSET
    current_node: str | None = UNSET
    result: Any = UNSET
    error: dict[str, str] | None = UNSET
    checkpoint: Checkpoint = UNSET
    review: Review | None = UNSET  # a Review opens it (stored), None closes it
    start_attempt: bool = False  # increments `attempts`


@dataclass(frozen=True)
class Decision:
    review_id: str
    decision: str
    comment: str | None
    by: str
    via: str


class Store(Protocol):
    async def initialize(self) -> None:
        """Create or migrate the schema."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""

    async def create_job(self, job: Job, events: Sequence[NewEvent]) -> tuple[Job, list[Event]]: ...

    async def get_job(self, job_id: str) -> Job | None: ...

    async def list_jobs(
        self,
        *,
        owner: str | None,
        status: JobStatus | None = None,
        flow: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[Job]:
        """Newest first; `before` is the id of the last job of the previous page."""

    async def update_job(
        self,
        job_id: str,
        update: JobUpdate,
        events: Sequence[NewEvent] = (),
        *,
        expect: Collection[JobStatus] | None = None,
    ) -> tuple[Job, list[Event]] | None:
        """Apply `update` and append `events` atomically.

        Returns None (and changes nothing) when the job's status is not in `expect`.
        """

    async def append_events(
        self,
        job_id: str,
        events: Sequence[NewEvent],
        *,
        progress: int | None = None,
        expect: Collection[JobStatus] | None = None,
    ) -> list[Event] | None:
        """`update_job` for events alone (and the progress): the same one transaction,
        without reading back the job (its checkpoint may be large). None if refused."""

    async def decide_review(
        self, job_id: str, decision: Decision, event: NewEvent
    ) -> tuple[Job, list[Event]]:
        """Record the first decision for an open review; raise Conflict otherwise."""

    async def get_review(self, review_id: str) -> Review | None: ...

    async def events_after(self, job_id: str, after: int = 0, limit: int = 1000) -> list[Event]: ...

    async def save_artifact(self, artifact: Artifact) -> Artifact: ...

    async def get_artifact(
        self, artifact_id: str, *, with_data: bool = True
    ) -> Artifact | None: ...

    async def save_batch_item(self, job_id: str, key: str, index: int, result: Any) -> None: ...

    async def batch_items(self, job_id: str, key: str) -> dict[int, Any]: ...

    async def job_ids(self, statuses: Collection[JobStatus]) -> list[str]: ...

    async def count_by_status(self) -> dict[str, int]: ...
