"""The store's SQL, as plain synchronous functions of one SQLAlchemy `Connection`.

`SQLStore` runs each function as one unit: on SQLite in a worker thread (one hop from
the event loop per store call, however many statements it runs), on PostgreSQL through
`AsyncConnection.run_sync`. Portable SQL only (UPDATE ... RETURNING works on both).

"Now" is always Python's `utcnow()`, bound as a parameter, never the database's clock:
SQLite stores timestamps as UTC text and compares them as text, PostgreSQL as timestamptz;
both agree only on values GenFlow itself wrote.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    bindparam,
    func,
    insert,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from backend.domain import Artifact, Checkpoint, Job, JobStatus, Review, utcnow
from backend.errors import Conflict
from backend.events import Event, EventType, NewEvent
from backend.store import pg_append, prepared
from backend.store import tables as t
from backend.store.base import UNSET, BatchItem, Decision, JobUpdate

NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}

# -- jobs --------------------------------------------------------------------------------


def create_job(conn: Connection, job: Job, events: Sequence[NewEvent]) -> tuple[Job, list[Event]]:
    """The new job as stored, without reading it back: the row is exactly `job` (every
    column is given), so a read would only parse its JSON again."""
    created = replace(job, attempts=0, last_seq=len(events), review=None)
    prepared.execute(conn, _INSERT_JOB, _job_row(created))
    add_assignees(conn, job.id, job.reviewers)
    stored = append(conn, job.id, 0, job.progress, events)
    return created, stored


def _job_row(job: Job) -> dict[str, Any]:
    """Every column of a new job's row (the compiled INSERT names them all)."""
    return {
        "id": job.id,
        "flow": job.flow,
        "status": job.status.value,
        "owner": job.owner,
        "input": job.input,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "progress": job.progress,
        "current_node": job.current_node,
        "result": job.result,
        "error": job.error,
        "session_id": job.session_id,
        "workflow_id": job.workflow_id,
        "attempts": job.attempts,
        "last_seq": job.last_seq,
        "shared": job.checkpoint.shared,
        "next_node": job.checkpoint.next_node,
        "runtime": job.checkpoint.runtime,
        "review_id": None,
        "lease_owner": None,
        "lease_expires_at": None,
        "reviewers": job.reviewers,
        "review_timeout": job.review_timeout,
        "on_timeout": job.on_timeout,
    }


_INSERT_JOB = insert(t.jobs)
_GET_JOB = select(t.jobs).where(t.jobs.c.id == bindparam("job_id"))
_JOB_STATUS = select(t.jobs.c.status).where(t.jobs.c.id == bindparam("job_id"))
_GET_REVIEW = select(t.reviews).where(t.reviews.c.id == bindparam("review_id"))
_INSERT_EVENTS = insert(t.events)
_EVENTS_AFTER = (
    select(t.events)
    .where(t.events.c.job_id == bindparam("job_id"), t.events.c.seq > bindparam("after"))
    .order_by(t.events.c.seq)
    .limit(bindparam("limit"))
)


def get_job(conn: Connection, job_id: str) -> Job | None:
    row = prepared.fetch_row(conn, _GET_JOB, {"job_id": job_id})
    return to_job(conn, row) if row is not None else None


def job_status(conn: Connection, job_id: str) -> JobStatus | None:
    status = conn.execute(_JOB_STATUS, {"job_id": job_id}).scalar()
    return JobStatus(status) if status is not None else None


def list_jobs(
    conn: Connection,
    *,
    owner: str | None,
    status: JobStatus | None,
    flow: str | None,
    limit: int,
    before: str | None,
    assignee: str | None = None,
) -> list[Job]:
    query = select(t.jobs).order_by(t.jobs.c.id.desc()).limit(limit)
    if assignee is not None:
        assigned = t.job_assignees.c
        query = query.join(
            t.job_assignees, (assigned.job_id == t.jobs.c.id) & (assigned.principal == assignee)
        )
    if owner is not None:
        query = query.where(t.jobs.c.owner == owner)
    if status is not None:
        query = query.where(t.jobs.c.status == status.value)
    if flow is not None:
        query = query.where(t.jobs.c.flow == flow)
    if before is not None:
        query = query.where(t.jobs.c.id < before)
    return [to_job(conn, row) for row in conn.execute(query).mappings().all()]


def update_job(
    conn: Connection,
    job_id: str,
    update_: JobUpdate,
    events: Sequence[NewEvent],
    expect: Collection[JobStatus] | None,
    fence: int | None = None,
) -> tuple[Job, list[Event]] | None:
    """One conditional UPDATE ... RETURNING checks the status (and the fence) and applies
    the change; on PostgreSQL it re-checks them on the row a racing writer committed."""
    values = _values(update_)
    shape = _Shape(tuple(sorted(values)), _expected(expect), fence is not None)
    query = _update_statement(shape, update_.start_attempt)
    params = _update_params(job_id, values, events, fence)
    row = prepared.fetch_row(conn, query, params)
    if row is None:
        return None  # unknown job, not in an expected status, or fenced off: nothing changed
    review = update_.review if isinstance(update_.review, Review) else None
    if review is not None:
        insert_review(conn, job_id, review)
    stored = append(conn, job_id, row["last_seq"] - len(events), row["progress"], events)
    return to_job(conn, row, review), stored


def append_events(
    conn: Connection,
    job_id: str,
    events: Sequence[NewEvent],
    progress: int | None,
    expect: Collection[JobStatus] | None,
    fence: int | None = None,
    update_: JobUpdate | None = None,
    items: Sequence[BatchItem] = (),
) -> list[Event] | None:
    """`update_job` that returns no job, so reads no JSON back: for events (and the
    progress) alone, or with a change whose result the caller knows (a checkpoint).
    `items`, finished batch items, are stored in the same transaction, behind the same
    fence (the UPDATE that checks it holds the job row until the commit)."""
    values = _values(update_) if update_ is not None else {}
    if update_ is not None and (update_.review is not UNSET or update_.start_attempt):
        raise ValueError("append_events cannot open a review or start an attempt")
    if progress is not None:
        values["progress"] = progress
    shape = _Shape(tuple(sorted(values)), _expected(expect), fence is not None)
    query = _update_statement(shape, False, light=True)
    params = _update_params(job_id, values, events, fence)
    if conn.dialect.name == "postgresql":  # one statement, one round trip
        written = pg_append.write(conn, query, params, events, items)
        if written is None:
            return None
        return _numbered(job_id, written[0] - len(events), written[1], events)
    row = prepared.fetch_one(conn, query, params)
    if row is None:
        return None
    last_seq, stored_progress = row
    if items:
        prepared.execute_many(
            conn,
            _upsert_batch_item_statement(conn.dialect.name),
            [{"job_id": job_id, "key": key, "idx": idx, "result": r} for key, idx, r in items],
        )
    return append(conn, job_id, last_seq - len(events), stored_progress, events)


def _update_params(
    job_id: str, values: dict[str, Any], events: Sequence[NewEvent], fence: int | None
) -> dict[str, Any]:
    """The bound values of an `_update_statement` (the expected statuses are in its SQL)."""
    params = {f"v_{name}": value for name, value in values.items()}
    params.update(job_id=job_id, n_events=len(events), v_updated_at=utcnow())
    if fence is not None:
        params["fence"] = fence
    return params


def _expected(expect: Collection[JobStatus] | None) -> tuple[str, ...] | None:
    return None if expect is None else tuple(sorted(status.value for status in expect))


@dataclass(frozen=True)
class _Shape:
    """What an UPDATE of a job sets and checks (the key its statement is cached by)."""

    columns: tuple[str, ...]
    # The statuses the job must be in (None: any). Part of the statement, one bound
    # parameter each, not an "expanding" IN: SQLAlchemy rewrites the SQL of an
    # expanding parameter on every execution. The set of statuses is small and fixed.
    expect: tuple[str, ...] | None
    fenced: bool  # `attempts` must be `fence`


@lru_cache(maxsize=256)
def _update_statement(shape: _Shape, start_attempt: bool, *, light: bool = False) -> Any:
    """The UPDATE for one shape of change, built once (SQLAlchemy then caches its SQL);
    RETURNING the whole row, or (`light`) just `last_seq` and `progress`."""
    names = (*shape.columns, "updated_at")
    values: dict[str, Any] = {
        name: bindparam(f"v_{name}", type_=t.jobs.c[name].type) for name in names
    }
    values["last_seq"] = t.jobs.c.last_seq + bindparam("n_events", type_=Integer)
    if start_attempt:
        values["attempts"] = t.jobs.c.attempts + 1
    query = update(t.jobs).where(t.jobs.c.id == bindparam("job_id"))
    if shape.expect is not None:
        expected = [bindparam(f"expect_{status}", status) for status in shape.expect]
        query = query.where(t.jobs.c.status.in_(expected))
    if shape.fenced:
        query = query.where(t.jobs.c.attempts == bindparam("fence", type_=Integer))
    returned = (t.jobs.c.last_seq, t.jobs.c.progress) if light else tuple(t.jobs.c)
    return query.values(values).returning(*returned)


def _values(update_: JobUpdate) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in ("progress", "current_node", "result", "error"):
        value = getattr(update_, name)
        if value is not UNSET:
            values[name] = value
    if update_.status is not UNSET:
        values["status"] = update_.status.value
        if update_.status is not JobStatus.RUNNING:
            values.update(NO_LEASE)  # nobody runs a job that is not running
    if update_.checkpoint is not UNSET:
        values["shared"] = update_.checkpoint.shared
        values["next_node"] = update_.checkpoint.next_node
        values["runtime"] = update_.checkpoint.runtime
    if update_.review is not UNSET:
        values["review_id"] = update_.review.id if update_.review else None
    return values


def decide_review(
    conn: Connection, job_id: str, decision: Decision, event: NewEvent
) -> tuple[Job, list[Event]]:
    """The job row is locked (PostgreSQL; SQLite has one writer) while the review is
    checked, so of racing decisions (people, or a deadline) exactly one finds it open."""
    row, _ = lock_open_review(conn, job_id, decision.review_id)
    record_decision(conn, decision)
    runtime = dict(row["runtime"])
    runtime["decision"] = {
        "review_id": decision.review_id,
        "decision": decision.decision,
        "comment": decision.comment,
        "by": decision.by,
        "via": decision.via,
    }
    if decision.edits is not None:
        runtime["decision"]["edits"] = decision.edits
    stored = append(conn, job_id, row["last_seq"], row["progress"], [event])
    last_seq = row["last_seq"] + len(stored)
    params = {"job_id": job_id, "runtime": runtime, "last_seq": last_seq, "updated_at": utcnow()}
    saved = prepared.fetch_row(conn, _REOPEN, params)
    assert saved is not None  # the row is locked: it is there
    return to_job(conn, saved), stored


# Built once, like the other statements a job runs every time (docs/performance.md): a
# decision cost 2.5 ms here, most of it SQLAlchemy building these statements.
_LOCK_JOB = select(t.jobs).where(t.jobs.c.id == bindparam("job_id")).with_for_update()
_REVIEW_OF_JOB = select(t.reviews).where(
    t.reviews.c.id == bindparam("review_id"), t.reviews.c.job_id == bindparam("job_id")
)
_REOPEN = (
    update(t.jobs)
    .where(t.jobs.c.id == bindparam("job_id"))
    .values(
        status=JobStatus.RUNNING.value,
        review_id=null(),
        runtime=bindparam("runtime", type_=t.jobs.c.runtime.type),
        last_seq=bindparam("last_seq", type_=Integer),
        updated_at=bindparam("updated_at", type_=t.jobs.c.updated_at.type),
        **{column: null() for column in NO_LEASE},  # claimable at once by any runner
    )
    .returning(*t.jobs.c)
)
_DECISION_COLUMNS = (
    "decision",
    "comment",
    "decided_by",
    "decided_via",
    "decided_at",
    "edits",
    "diff",
)
_RECORD_DECISION = (
    update(t.reviews)
    .where(t.reviews.c.id == bindparam("review_id"))
    .values(
        {name: bindparam(f"v_{name}", type_=t.reviews.c[name].type) for name in _DECISION_COLUMNS}
        | {"due_at": null()}
    )
)


def lock_open_review(conn: Connection, job_id: str, review_id: str) -> tuple[Any, Any]:
    """The job's row, locked FOR UPDATE (always before its review's row: one lock order
    for every writer), and the review's row, when `review_id` is the job's open and
    undecided review; Conflict saying why otherwise."""
    row = prepared.fetch_row(conn, _LOCK_JOB, {"job_id": job_id})
    ids = {"review_id": review_id, "job_id": job_id}
    review_row = prepared.fetch_row(conn, _REVIEW_OF_JOB, ids)
    if row is None or review_row is None:
        raise Conflict(
            f"review {review_id!r} is not a review of this job",
            {"open_review_id": row["review_id"] if row else None},
        )
    if review_row["decision"] is not None:
        raise Conflict(
            f"review already decided: {review_row['decision']}",
            {
                "decision": review_row["decision"],
                "comment": review_row["comment"],
                "by": review_row["decided_by"],
                "via": review_row["decided_via"],
            },
        )
    if row["status"] != JobStatus.WAITING_FOR_REVIEW or row["review_id"] != review_id:
        raise Conflict(
            "no review is open for this job",
            {"status": row["status"], "open_review_id": row["review_id"]},
        )
    return row, review_row


def record_decision(conn: Connection, decision: Decision) -> None:
    """Store the decision on its review; no timer of a decided review is pending."""
    prepared.execute(
        conn,
        _RECORD_DECISION,
        {
            "review_id": decision.review_id,
            "v_decision": decision.decision,
            "v_comment": decision.comment,
            "v_decided_by": decision.by,
            "v_decided_via": decision.via,
            "v_decided_at": utcnow(),
            "v_edits": decision.edits,
            "v_diff": decision.diff,
        },
    )


def get_review(conn: Connection, review_id: str) -> Review | None:
    row = prepared.fetch_row(conn, _GET_REVIEW, {"review_id": review_id})
    return to_review(row) if row else None


def job_ids(conn: Connection, statuses: Collection[JobStatus]) -> list[str]:
    query = select(t.jobs.c.id).where(t.jobs.c.status.in_([s.value for s in statuses]))
    return list(conn.execute(query.order_by(t.jobs.c.id)).scalars())


def count_by_status(conn: Connection) -> dict[str, int]:
    query = select(t.jobs.c.status, func.count()).group_by(t.jobs.c.status)
    return {status: count for status, count in conn.execute(query).all()}


# -- leases ------------------------------------------------------------------------------

_RUNNING = JobStatus.RUNNING.value


def claim_job(
    conn: Connection, job_id: str, owner: str, lease_seconds: float, steal: bool
) -> tuple[Job, list[Event]] | None:
    """One conditional UPDATE takes the job: of racing claimers (PostgreSQL re-checks the
    condition on the row the winner committed) exactly one gets it."""
    now = utcnow()
    params: dict[str, Any] = {
        "job_id": job_id,
        "now": now,
        "c_owner": owner,
        "c_expires": now + timedelta(seconds=lease_seconds),
    }
    statement = _claim_statement(steal)
    postgresql = conn.dialect.name == "postgresql"
    if postgresql:  # the claim inserts its event too: one statement, one round trip
        statement, params["ts"] = pg_append.claim_statement(statement), now
    row = prepared.fetch_row(conn, statement, params)
    if row is None:
        return None
    started = [NewEvent(EventType.JOB_STARTED, {"attempt": row["attempts"]}, ts=now)]
    at = (job_id, row["last_seq"] - 1, row["progress"], started)
    return to_job(conn, row), (_numbered(*at) if postgresql else append(conn, *at))


@lru_cache(maxsize=2)
def _claim_statement(steal: bool) -> Any:
    jobs = t.jobs.c
    now = bindparam("now", type_=jobs.updated_at.type)
    claimable = or_(
        jobs.status == JobStatus.PENDING.value,
        (jobs.status == _RUNNING) & _lease_gone(now, steal),
    )
    return (
        update(t.jobs)
        .where(jobs.id == bindparam("job_id"), claimable)
        .values(
            status=_RUNNING,
            attempts=jobs.attempts + 1,
            last_seq=jobs.last_seq + 1,
            updated_at=now,
            lease_owner=bindparam("c_owner", type_=jobs.lease_owner.type),
            lease_expires_at=bindparam("c_expires", type_=jobs.lease_expires_at.type),
        )
        .returning(*t.jobs.c)
    )


def _lease_gone(now: Any, steal: bool) -> Any:
    """No live lease: none (released, or a decision re-opened the job) or an expired one."""
    if steal:
        return true()  # a live lease too: the local queue recovering its own process
    expires = t.jobs.c.lease_expires_at
    return expires.is_(None) | (expires < now)


def renew_lease(conn: Connection, job_id: str, fence: int, lease_seconds: float) -> bool:
    expires = utcnow() + timedelta(seconds=lease_seconds)
    result = conn.execute(_fenced_update(job_id, fence).values(lease_expires_at=expires))
    return result.rowcount > 0


def release_lease(conn: Connection, job_id: str, fence: int) -> None:
    conn.execute(_fenced_update(job_id, fence).values(**NO_LEASE))


def _fenced_update(job_id: str, fence: int) -> Any:
    """An UPDATE of the job only while the runner holding `fence` still runs it."""
    jobs = t.jobs.c
    return update(t.jobs).where(jobs.id == job_id, jobs.attempts == fence, jobs.status == _RUNNING)


# Built once: every fenced write runs it (a batch item, an artifact), and building it
# cost more than running it (a py-spy profile of a 1,000-job burst, docs/performance.md).
_HOLDS: Select[Any] = (
    select(t.jobs.c.id)
    .where(
        t.jobs.c.id == bindparam("job_id"),
        t.jobs.c.attempts == bindparam("fence", type_=Integer),
        t.jobs.c.status == _RUNNING,
    )
    .with_for_update(key_share=True)  # FOR NO KEY UPDATE: inserts citing the job go on
)


def holds(conn: Connection, job_id: str, fence: int) -> bool:
    """Whether the runner holding `fence` still runs the job; the row stays locked
    (PostgreSQL) until the transaction ends, so no claim or cancel slips in between."""
    return prepared.fetch_one(conn, _HOLDS, {"job_id": job_id, "fence": fence}) is not None


def unowned_jobs(conn: Connection, grace_seconds: float, limit: int) -> list[str]:
    now = utcnow()
    jobs = t.jobs.c
    quiet = jobs.updated_at < now - timedelta(seconds=grace_seconds)
    running = (jobs.status == _RUNNING) & (
        (jobs.lease_expires_at < now) | (jobs.lease_expires_at.is_(None) & quiet)
    )
    pending = (jobs.status == JobStatus.PENDING.value) & quiet
    query = select(jobs.id).where(running | pending).order_by(jobs.updated_at, jobs.id)
    return list(conn.execute(query.limit(limit)).scalars())


# -- events ------------------------------------------------------------------------------


def events_after(conn: Connection, job_id: str, after: int, limit: int) -> list[Event]:
    params = {"job_id": job_id, "after": after, "limit": limit}
    return [
        Event(
            job_id=row["job_id"],
            type=EventType(row["type"]),
            data=row["data"],
            ts=aware(row["ts"]),
            progress=row["progress"],
            seq=row["seq"],
        )
        for row in prepared.fetch_rows(conn, _EVENTS_AFTER, params)
    ]


def _numbered(job_id: str, last_seq: int, progress: int, events: Sequence[NewEvent]) -> list[Event]:
    """The events as stored after `last_seq`."""
    return [
        Event(job_id=job_id, type=e.type, data=e.data, ts=e.ts, progress=progress, seq=seq)
        for seq, e in enumerate(events, start=last_seq + 1)
    ]


def append(
    conn: Connection, job_id: str, last_seq: int, progress: int, events: Sequence[NewEvent]
) -> list[Event]:
    stored = _numbered(job_id, last_seq, progress, events)
    if stored:
        prepared.execute_many(
            conn,
            _INSERT_EVENTS,
            [
                {
                    "job_id": job_id,
                    "seq": e.seq,
                    "type": e.type.value,
                    "ts": e.ts,
                    "progress": e.progress,
                    "data": e.data,
                }
                for e in stored
            ],
        )
    return stored


# -- artifacts and batch items -----------------------------------------------------------


def save_artifact(
    conn: Connection, artifact: Artifact, event: NewEvent | None, fence: int | None
) -> list[Event] | None:
    """Idempotent by id: a node that runs again after a crash derives the same ids, and
    its second copy (and second `artifact.created`) is dropped here."""
    if fence is not None and conn.dialect.name == "postgresql":  # one statement, one round trip
        saved = pg_append.save_artifact(conn, _HOLDS, artifact, event, fence)
        if not saved.held:
            return None
        if not saved.new or event is None or saved.last_seq is None or saved.progress is None:
            return []
        return _numbered(artifact.job_id, saved.last_seq - 1, saved.progress, [event])
    if fence is not None and not holds(conn, artifact.job_id, fence):
        return None
    if not _insert_artifact(conn, artifact) or event is None:
        return []
    return append_events(conn, artifact.job_id, [event], None, None)


def _insert_artifact(conn: Connection, artifact: Artifact) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING (the same SQL on both databases); False when an
    artifact with this id exists."""
    row = {
        "id": artifact.id,
        "job_id": artifact.job_id,
        "owner": artifact.owner,
        "kind": artifact.kind,
        "mime": artifact.mime,
        "name": artifact.name,
        "size": artifact.size,
        "data": artifact.data,
        "created_at": artifact.created_at,
    }
    return prepared.fetch_one(conn, _insert_artifact_statement(conn.dialect.name), row) is not None


@lru_cache(maxsize=2)
def _insert_artifact_statement(dialect_name: str) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(t.artifacts)
        .on_conflict_do_nothing(index_elements=[t.artifacts.c.id])
        .returning(t.artifacts.c.id)
    )


def get_artifact(conn: Connection, artifact_id: str, with_data: bool) -> Artifact | None:
    columns = [c for c in t.artifacts.c if with_data or c.name != "data"]
    row = conn.execute(select(*columns).where(t.artifacts.c.id == artifact_id)).mappings().first()
    if row is None:
        return None
    return Artifact(
        id=row["id"],
        job_id=row["job_id"],
        owner=row["owner"],
        kind=row["kind"],
        mime=row["mime"],
        name=row["name"],
        size=row["size"],
        created_at=aware(row["created_at"]),
        data=row.get("data"),
    )


@lru_cache(maxsize=2)
def _upsert_batch_item_statement(dialect_name: str) -> Any:
    """INSERT ... ON CONFLICT (job_id, key, idx) DO UPDATE: an item run again replaces
    the row (the primary key) in one statement."""
    insert_ = _dialect(dialect_name).insert(t.batch_items)
    return _on_item_conflict(insert_)


def _dialect(dialect_name: str) -> Any:
    """The module whose `insert` has `on_conflict_*` (the same SQL on both databases)."""
    return postgresql if dialect_name == "postgresql" else sqlite


def _on_item_conflict(insert_: Any) -> Any:
    items = t.batch_items.c
    return insert_.on_conflict_do_update(
        index_elements=[items.job_id, items.key, items.idx],
        set_={"result": insert_.excluded.result},
    )


_BATCH_ITEMS = select(t.batch_items.c.idx, t.batch_items.c.result).where(
    t.batch_items.c.job_id == bindparam("job_id"), t.batch_items.c.key == bindparam("key")
)


def batch_items(conn: Connection, job_id: str, key: str) -> dict[int, Any]:
    rows = conn.execute(_BATCH_ITEMS, {"job_id": job_id, "key": key}).all()
    return {idx: result for idx, result in rows}


# -- rows to records ---------------------------------------------------------------------


def aware(moment: datetime | None) -> datetime | None:
    """UTC: SQLite returns naive UTC, PostgreSQL aware in the session's time zone."""
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def insert_review(conn: Connection, job_id: str, review: Review) -> None:
    """Store an opened review; its first pending timer is the reminder (or, without one,
    the deadline), and its assignees may see the job from now on."""
    opened = {
        "id": review.id,
        "job_id": job_id,
        "node": review.node,
        "prompt": review.prompt,
        "options": review.options,
        "payload": review.payload,
        "requested_at": review.requested_at,
        "assignees": review.assignees,
        "editable": review.editable,
        "deadline": review.deadline,
        "on_timeout": review.on_timeout,
        "remind_at": review.remind_at,
        "due_at": review.remind_at or review.deadline,
    }
    prepared.execute(conn, _INSERT_REVIEW, opened)
    add_assignees(conn, job_id, review.assignees)


def add_assignees(conn: Connection, job_id: str, principals: Sequence[str]) -> None:
    """Let `principals` see the job (INSERT ... ON CONFLICT DO NOTHING, both databases)."""
    if not principals:
        return
    prepared.execute_many(
        conn,
        _insert_assignee_statement(conn.dialect.name),
        [{"job_id": job_id, "principal": p} for p in dict.fromkeys(principals)],
    )


_OPENED_COLUMNS = (
    "id", "job_id", "node", "prompt", "options", "payload", "requested_at", "assignees",
    "editable", "deadline", "on_timeout", "remind_at", "due_at",
)  # fmt: skip
_INSERT_REVIEW = insert(t.reviews).values(
    {name: bindparam(name, type_=t.reviews.c[name].type) for name in _OPENED_COLUMNS}
)


@lru_cache(maxsize=2)
def _insert_assignee_statement(dialect_name: str) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(t.job_assignees).on_conflict_do_nothing()


def is_assignee(conn: Connection, job_id: str, principal: str) -> bool:
    query = select(t.job_assignees.c.job_id).where(
        t.job_assignees.c.job_id == job_id, t.job_assignees.c.principal == principal
    )
    return conn.execute(query).first() is not None


def to_job(conn: Connection, row: Any, review: Review | None = None) -> Job:
    """A Job from its row; the open review is read unless the caller already has it."""
    if review is None and row["review_id"]:
        review = get_review(conn, row["review_id"])
    return Job(
        id=row["id"],
        flow=row["flow"],
        status=JobStatus(row["status"]),
        input=row["input"],
        owner=row["owner"],
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
        progress=row["progress"],
        current_node=row["current_node"],
        review=review,
        result=row["result"],
        error=row["error"],
        session_id=row["session_id"],
        workflow_id=row["workflow_id"],
        attempts=row["attempts"],
        last_seq=row["last_seq"],
        checkpoint=Checkpoint(
            shared=row["shared"], next_node=row["next_node"], runtime=row["runtime"]
        ),
        reviewers=list(row["reviewers"] or []),
        review_timeout=row["review_timeout"],
        on_timeout=row["on_timeout"],
    )


def to_review(row: Any) -> Review:
    return Review(
        id=row["id"],
        node=row["node"],
        prompt=row["prompt"],
        options=list(row["options"]),
        payload=row["payload"],
        requested_at=aware(row["requested_at"]),
        decision=row["decision"],
        comment=row["comment"],
        decided_by=row["decided_by"],
        decided_via=row["decided_via"],
        assignees=list(row["assignees"] or []),
        editable=list(row["editable"] or []),
        deadline=aware(row["deadline"]),
        on_timeout=row["on_timeout"],
        remind_at=aware(row["remind_at"]),
        reminded_at=aware(row["reminded_at"]),
        decided_at=aware(row["decided_at"]),
        edits=row["edits"],
        diff=row["diff"],
    )
