"""The storage interface the runtime and the API are written against.

Every state change of a job goes through `update_job`, which applies the change and
appends its events in ONE transaction, conditional on the job's current status. That is
what makes checkpoints atomic with their events, the first review decision win, and a
cancelled job's late checkpoint a no-op.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from backend.domain import Artifact, Checkpoint, Job, JobStatus, Review
from backend.events import Event, NewEvent
from backend.knowledge.model import Chunk, Document, KnowledgeBase
from backend.people.model import Account, TokenRecord
from backend.sessions.model import Frame, NewFrame, Session
from backend.workflows.model import Workflow


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

    def applied_to(self, job: Job, *, last_seq: int, updated_at: datetime) -> Job:
        """The job as this update leaves it: what a writer that knows what it wrote
        would otherwise read back (and parse) from the store."""
        changed: dict[str, Any] = {"last_seq": last_seq, "updated_at": updated_at}
        for name in ("status", "progress", "current_node", "result", "error", "checkpoint"):
            value = getattr(self, name)
            if value is not UNSET:
                changed[name] = value
        if self.review is not UNSET:
            changed["review"] = self.review
        if self.start_attempt:
            changed["attempts"] = job.attempts + 1
        return replace(job, **changed)


class BatchItem(NamedTuple):
    """A finished item of a batch node, saved so that a crash re-runs only the others:
    under the node's `key` (its name and visit), by its index."""

    key: str
    index: int
    result: Any


@dataclass(frozen=True)
class Decision:
    review_id: str
    decision: str
    comment: str | None
    by: str
    via: str
    edits: dict[str, Any] | None = None  # an `edit` decision's changed fields
    diff: dict[str, str] | None = None  # their unified diffs (text fields)


class SessionStore(Protocol):
    """Sessions and their frames (backend/sessions/model.py).

    Every change of a session is a compare-and-set on its `version`, and appends its
    frames in the same transaction; frames are numbered 1, 2, 3... per session with no
    gaps, whichever writer (API replica, worker) appends them.
    """

    async def create_session(
        self, session: Session, frames: Sequence[NewFrame] = ()
    ) -> tuple[Session, list[Frame]]:
        """Insert the session and its first frames (event ids from 1)."""

    async def get_session(self, session_id: str) -> Session | None: ...

    async def list_sessions(
        self, *, owner: str | None, limit: int = 50, before: str | None = None
    ) -> list[Session]:
        """Newest first; `before` is the id of the last session of the previous page."""

    async def update_session(
        self,
        session_id: str,
        *,
        version: int,
        changes: Mapping[str, Any],
        frames: Sequence[NewFrame] = (),
    ) -> tuple[Session, list[Frame]] | None:
        """Apply `changes` (Session fields but id, owner, created_at, version and
        last_event_id; ValueError otherwise), set updated_at (now, unless `changes` sets
        it) and version + 1, and append `frames`, in one transaction.

        Returns None, changing nothing, when the stored version is not `version` (another
        writer changed the session since it was read: read it again and retry) or the
        session is gone.
        """

    async def append_frames(self, session_id: str, frames: Sequence[NewFrame]) -> list[Frame]:
        """Append frames that change no state (a suggestion, an error): the version and
        updated_at stay. [] (nothing stored) when the session is gone."""

    async def frames_after(
        self, session_id: str, after: int = 0, limit: int = 1000
    ) -> list[Frame]: ...

    async def delete_session(self, session_id: str) -> bool:
        """Delete the session and its frames; False when there was none."""

    async def expired_sessions(self, now: datetime, limit: int = 500) -> list[str]:
        """Ids of sessions whose expires_at is before `now`, longest expired first."""


class WorkflowStore(Protocol):
    """Pilot workflows: every version of a spec kept; updates compare-and-set `version`."""

    async def create_workflow(self, workflow: Workflow) -> Workflow: ...

    async def get_workflow(self, workflow_id: str) -> Workflow | None: ...

    async def list_workflows(
        self, *, owner: str | None, limit: int = 50, before: str | None = None
    ) -> list[Workflow]: ...

    async def update_workflow(
        self, workflow_id: str, *, version: int, changes: Mapping[str, Any]
    ) -> Workflow | None:
        """The next version, or None when `version` is no longer the current one."""
        ...

    async def delete_workflow(self, workflow_id: str) -> bool: ...

    async def workflow_jobs(
        self,
        workflow_id: str,
        *,
        flow: str = "workflow",
        limit: int = 50,
        before: str | None = None,
    ) -> list[Job]:
        """The workflow's jobs of `flow` (its executions by default), newest first."""
        ...


class KnowledgeStore(Protocol):
    """Knowledge bases, their documents and chunks, and full-text search over the chunks
    (SQLite FTS5 / PostgreSQL full-text: backend/store/fulltext.py).

    A base's name is unique per owner; ownership is checked by the callers (the API's
    service, the runner's owner-scoped searcher), which pass `owner` where it matters.
    """

    async def create_base(
        self, base: KnowledgeBase, documents: Sequence[tuple[Document, Sequence[Chunk]]] = ()
    ) -> tuple[KnowledgeBase, list[Document]]:
        """Insert the base and its first documents in one transaction; Conflict when the
        owner already has a base of that name."""
        ...

    async def get_base(self, ref: str, *, owner: str | None = None) -> KnowledgeBase | None:
        """By id; with `owner`, only that owner's base, by id or else by name."""
        ...

    async def list_bases(self, owner: str | None) -> list[KnowledgeBase]:
        """Newest first; every owner's when `owner` is None (admins)."""
        ...

    async def delete_base(self, base_id: str) -> bool:
        """Delete the base with its documents and chunks; False when there was none."""
        ...

    async def add_document(
        self, base_id: str, document: Document, chunks: Sequence[Chunk]
    ) -> tuple[KnowledgeBase, Document, bool] | None:
        """Store the document and its chunks (replacing the base's document of the same
        name) and update the base's counts, in one transaction: (the base, the document,
        whether it replaced one). None, storing nothing, when the base is gone."""
        ...

    async def list_documents(self, base_id: str) -> list[Document]: ...

    async def search(self, base_id: str, query: str, top_k: int = 5) -> list[dict[str, Any]]:
        """The base's best `top_k` chunks for `query`, best first: `[{"text", "source",
        "score"}]`, score a float, higher is better. [] when nothing matches or the query
        has no words; never an error for what the query says."""
        ...


class PeopleStore(Protocol):
    """Accounts (the name is the principal) and the record of every token issued.

    A token's record is written before the token is handed out, and `revoked_at`, once
    set, is never cleared: the revocation check on every request reads `get_token`.
    """

    async def create_account(self, account: Account) -> None:
        """Conflict when an account of that name exists."""
        ...

    async def get_account(self, name: str) -> Account | None: ...

    async def list_accounts(self) -> list[Account]:
        """By name."""
        ...

    async def count_accounts(self) -> int: ...

    async def set_password(self, name: str, password_hash: str) -> bool:
        """False when there is no such account."""
        ...

    async def delete_account(self, name: str, at: datetime) -> list[str] | None:
        """Delete the account and revoke its principal's tokens in one transaction: the
        ids revoked now, or None when there was no such account."""
        ...

    async def record_token(self, record: TokenRecord) -> None: ...

    async def get_token(self, token_id: str) -> TokenRecord | None: ...

    async def list_tokens(
        self, *, principal: str | None, limit: int = 50, before: str | None = None
    ) -> list[TokenRecord]:
        """Newest first; every principal's when `principal` is None."""
        ...

    async def revoke_token(self, token_id: str, at: datetime) -> TokenRecord | None:
        """Set `revoked_at` unless set already; the record after, None if never issued."""
        ...

    async def link_slack(self, principal: str, account: str, at: datetime) -> None:
        """NotFound without the account; Conflict when linked to another account."""
        ...

    async def unlink_slack(self, principal: str) -> bool: ...

    async def linked_account(self, principal: str) -> str | None:
        """The account a Slack principal acts as, if linked."""
        ...

    async def slack_links(self) -> list[tuple[str, str]]:
        """(Slack principal, account) pairs, by account."""
        ...

    async def revoke_tokens_of(self, principal: str, at: datetime) -> list[str]:
        """Revoke every live token of `principal`; the ids revoked now."""
        ...

    async def prune_tokens(self, expired_before: datetime) -> int:
        """Delete the records of tokens that expired before `expired_before`."""
        ...


class Store(SessionStore, WorkflowStore, KnowledgeStore, PeopleStore, Protocol):
    async def initialize(self) -> None:
        """Create or migrate the schema."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""

    @property
    def failing(self) -> bool:
        """True since the last store call failed with StoreUnavailable, until one works
        (a full disk fails writes while reads and pings still work)."""

    async def create_job(self, job: Job, events: Sequence[NewEvent]) -> tuple[Job, list[Event]]: ...

    async def get_job(self, job_id: str) -> Job | None: ...

    async def job_status(self, job_id: str) -> JobStatus | None:
        """The job's status alone (None if there is no such job): a check that needs no
        more than that does not parse the checkpoint."""

    async def list_jobs(
        self,
        *,
        owner: str | None,
        status: JobStatus | None = None,
        flow: str | None = None,
        limit: int = 50,
        before: str | None = None,
        assignee: str | None = None,
    ) -> list[Job]:
        """Newest first; `before` is the id of the last job of the previous page;
        `assignee`: only jobs that principal is a reviewer or review assignee of."""

    async def update_job(
        self,
        job_id: str,
        update: JobUpdate,
        events: Sequence[NewEvent] = (),
        *,
        expect: Collection[JobStatus] | None = None,
        fence: int | None = None,
    ) -> tuple[Job, list[Event]] | None:
        """Apply `update` and append `events` atomically.

        Returns None (and changes nothing) when the job's status is not in `expect`, or
        when `fence` is given and the job's `attempts` is no longer `fence` (another
        runner claimed the job since). A status other than `running` clears the lease.
        """

    async def append_events(
        self,
        job_id: str,
        events: Sequence[NewEvent],
        *,
        progress: int | None = None,
        expect: Collection[JobStatus] | None = None,
        fence: int | None = None,
        update_: JobUpdate | None = None,
        items: Sequence[BatchItem] = (),
    ) -> list[Event] | None:
        """`update_job` without reading back the job (its checkpoint may be large): for
        events alone (and the progress), or with `update_` - a change whose result the
        caller knows, such as a runner's checkpoint; not one that opens a review or
        starts an attempt. Finished batch `items` are saved in it too (an item saved
        again replaces the one stored). The same one transaction. None if refused."""

    async def claim_job(
        self, job_id: str, *, owner: str, lease_seconds: float, steal: bool = False
    ) -> tuple[Job, list[Event]] | None:
        """Take the job for one runner: `pending`, or `running` without a live lease (it
        expired, was released, or a decision just re-opened the job) becomes `running`
        with `attempts + 1` (the fence of every later runner write), the lease
        (`owner`, now + `lease_seconds`), and `job.started {attempt}` appended.
        `steal` also takes a live lease (the one-process local queue's recovery).
        None, changing nothing, when the job is not claimable."""

    async def renew_lease(self, job_id: str, *, fence: int, lease_seconds: float) -> bool:
        """Extend the lease of the runner holding `fence`; False when it lost the job
        (cancelled, finished, parked, or claimed by another runner)."""

    async def release_lease(self, job_id: str, *, fence: int) -> None:
        """Give the job up (a worker shutting down): claimable at once by another."""

    async def unowned_jobs(self, *, grace_seconds: float, limit: int = 500) -> list[str]:
        """Jobs nobody will run unless re-queued: `running` with an expired (or no)
        lease, and `pending`, not updated for `grace_seconds`. Oldest first."""

    async def decide_review(
        self, job_id: str, decision: Decision, event: NewEvent
    ) -> tuple[Job, list[Event]]:
        """Record the first decision for an open review; raise Conflict otherwise."""

    async def get_review(self, review_id: str) -> Review | None: ...

    async def is_assignee(self, job_id: str, principal: str) -> bool:
        """Whether `principal` is a reviewer of the job or an assignee of one of its
        reviews (and so may see it)."""

    async def job_reviews(self, job_id: str) -> list[Review]:
        """Every review of the job, decided or not, oldest first (the audit)."""

    async def due_reviews(self, now: datetime, limit: int = 100) -> list[tuple[str, Review]]:
        """(job id, review) of reviews whose next pending timer (reminder, then deadline)
        is due at `now`, soonest first."""

    async def remind_review(
        self, job_id: str, review_id: str, event: NewEvent, *, now: datetime
    ) -> list[Event] | None:
        """Send the review's reminder once: mark it sent and append `event`, in one
        transaction, if the review is still the job's open one and its reminder is due
        and unsent. None (nothing appended) otherwise; a review no longer open loses its
        pending timer."""

    async def time_out_review(
        self,
        job_id: str,
        decision: Decision,
        events: Sequence[NewEvent],
        *,
        cancel: bool,
        now: datetime,
    ) -> tuple[Job, list[Event]] | None:
        """Apply a passed deadline as the review's decision, atomically and only if the
        review is still open, undecided and due (first decision wins, as in
        `decide_review`): the job resumes with the decision, or (`cancel`) is cancelled.
        `events` are appended with it. None, changing nothing, when a decision came first
        or the review closed (its pending timer is dropped)."""

    async def events_after(self, job_id: str, after: int = 0, limit: int = 1000) -> list[Event]: ...

    async def save_artifact(
        self, artifact: Artifact, event: NewEvent | None = None, *, fence: int | None = None
    ) -> list[Event] | None:
        """Store the artifact and append `event` (its `artifact.created`) in one
        transaction. Idempotent by id: an artifact that exists already is kept and
        nothing is appended (returns []). None when `fence` is stale."""

    async def get_artifact(
        self, artifact_id: str, *, with_data: bool = True
    ) -> Artifact | None: ...

    async def batch_items(self, job_id: str, key: str) -> dict[int, Any]: ...

    async def job_ids(self, statuses: Collection[JobStatus]) -> list[str]: ...

    async def count_by_status(self) -> dict[str, int]: ...
