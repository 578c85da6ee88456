"""A runner's write on PostgreSQL as ONE statement: the fenced UPDATE of the job, the
INSERT of its events and the upsert of its finished batch items; the claim, whose
UPDATE takes the job and whose INSERT appends its `job.started`; and a runner's artifact,
whose INSERT reads the fence's locked row and whose `artifact.created` is appended only
when the artifact was new.

Sent one by one, they cost a round trip each, and a round trip is where a worker's CPU
goes on PostgreSQL: psycopg's wait, the event loop's reader registration and a greenlet
switch each way, several times per write (docs/performance.md, "Fewer writes per job").
Data-modifying CTEs put them in one statement: the UPDATE ... RETURNING runs first, and
the INSERTs read its one row (none when the status or the fence does not hold, so then
nothing is written at all), numbering the events from the `last_seq` it returned. The
events and items travel as one JSON document each (`json_to_recordset`), so the
statement has the same text whatever their number, and psycopg prepares it once.

The UPDATE is `queries`' own statement, with the same conditions: PostgreSQL re-checks
them on the row a racing writer committed (READ COMMITTED's EvalPlanQual), exactly as
when it ran alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Integer,
    Text,
    bindparam,
    column,
    exists,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql

from backend.domain import Artifact, utcnow
from backend.events import EventType, NewEvent
from backend.store import prepared
from backend.store import tables as t
from backend.store.base import BatchItem


def write(
    conn: Connection,
    update: Any,
    params: dict[str, Any],
    events: Sequence[NewEvent],
    items: Sequence[BatchItem],
) -> tuple[int, int] | None:
    """Run `update` (an UPDATE of one job RETURNING last_seq and progress, its `params`
    bound) with the events' INSERT and the items' upsert: the returned (last_seq,
    progress), or None when the UPDATE matched no row and nothing was written."""
    statement = _statement(update, bool(events), bool(items))
    bound = dict(params)
    if events:
        bound["events"] = _events_document(events)
    if items:
        latest = {(item.key, item.index): item.result for item in items}  # one row each
        bound["items"] = [
            {"key": key, "idx": index, "result": result} for (key, index), result in latest.items()
        ]
    row = prepared.fetch_one(conn, statement, bound)
    return (row[0], row[1]) if row is not None else None


@lru_cache(maxsize=256)
def _statement(update: Any, with_events: bool, with_items: bool) -> Any:
    job = update.cte("job")
    statement = select(job.c.last_seq, job.c.progress)
    job_id = bindparam("job_id")
    if with_events:
        statement = statement.add_cte(_insert_events(job))
    if with_items:
        rows = (
            func.json_to_recordset(bindparam("items", type_=JSON))
            .table_valued(column("key", Text), column("idx", Integer), column("result", JSON))
            .render_derived(name="new_items", with_types=True)
        )
        upsert = postgresql.insert(t.batch_items).from_select(
            ["job_id", "key", "idx", "result"],
            select(job_id, rows.c.key, rows.c.idx, rows.c.result)
            .select_from(job)
            .join(rows, true()),
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[t.batch_items.c.job_id, t.batch_items.c.key, t.batch_items.c.idx],
            set_={"result": upsert.excluded.result},
        )
        statement = statement.add_cte(upsert.cte("stored_items"))
    return statement


def _insert_events(job: Any) -> Any:
    """The INSERT of the `:events` document's events, numbered up to the `last_seq` the
    `job` CTE returned (raised by `:n_events`), as a CTE."""
    rows = (
        func.json_to_recordset(bindparam("events", type_=JSON))
        .table_valued(
            column("k", Integer),  # 1, 2, 3...: the event's place in this write
            column("type", Text),
            column("ts", DateTime(timezone=True)),
            column("data", JSON),
        )
        .render_derived(name="new_events", with_types=True)
    )
    first = job.c.last_seq - bindparam("n_events", type_=Integer)
    job_id = bindparam("job_id")
    insert_events = t.events.insert().from_select(
        ["job_id", "seq", "type", "ts", "progress", "data"],
        select(job_id, first + rows.c.k, rows.c.type, rows.c.ts, job.c.progress, rows.c.data)
        .select_from(job)
        .join(rows, true()),
    )
    return insert_events.cte("stored_events")


def _events_document(events: Sequence[NewEvent]) -> list[dict[str, Any]]:
    return [
        {"k": k, "type": e.type.value, "ts": e.ts.isoformat(), "data": e.data}
        for k, e in enumerate(events, start=1)
    ]


_ARTIFACT_COLUMNS = ("id", "owner", "kind", "mime", "name", "size", "data", "created_at")


class SavedArtifact(NamedTuple):
    held: bool  # the fence held (else nothing was written)
    new: bool  # the artifact was inserted (else one with its id was there already)
    last_seq: int | None  # what the event was numbered up to, when one was appended
    progress: int | None


def save_artifact(
    conn: Connection, holds: Any, artifact: Artifact, event: NewEvent | None, fence: int
) -> SavedArtifact:
    """A runner's artifact as ONE statement: `holds` (the fence's SELECT ... FOR NO KEY
    UPDATE of the job) as a CTE, the artifact's INSERT from its row (none, so nothing
    written, when the fence does not hold; dropped on a conflict: the same id saved
    before), and, only when the artifact was inserted, `event` appended."""
    params: dict[str, Any] = {
        "job_id": artifact.job_id,
        "fence": fence,
        **{f"a_{name}": getattr(artifact, name) for name in _ARTIFACT_COLUMNS},
    }
    if event is not None:
        params.update(n_events=1, v_updated_at=utcnow(), events=_events_document([event]))
    row = prepared.fetch_one(conn, _artifact_statement(holds, event is not None), params)
    assert row is not None  # the counts are always there
    held, inserted, *numbered = row
    return SavedArtifact(bool(held), bool(inserted), *(numbered or (None, None)))


@lru_cache(maxsize=4)
def _artifact_statement(holds: Any, with_event: bool) -> Any:
    fence = holds.cte("fence")
    a = t.artifacts.c
    values = [bindparam(f"a_{name}", type_=a[name].type) for name in _ARTIFACT_COLUMNS]
    insert = (
        postgresql.insert(t.artifacts)
        .from_select(["job_id", *_ARTIFACT_COLUMNS], select(fence.c.id, *values))
        .on_conflict_do_nothing(index_elements=[a.id])
        .returning(a.id)
    )
    art = insert.cte("art")
    counts = (
        select(func.count()).select_from(fence).scalar_subquery(),
        select(func.count()).select_from(art).scalar_subquery(),
    )
    if not with_event:
        return select(*counts)
    job = (
        update(t.jobs)
        .where(t.jobs.c.id == bindparam("job_id"), exists(select(art.c.id)))
        .values(
            last_seq=t.jobs.c.last_seq + bindparam("n_events", type_=Integer),
            updated_at=bindparam("v_updated_at", type_=t.jobs.c.updated_at.type),
        )
        .returning(t.jobs.c.last_seq, t.jobs.c.progress)
        .cte("job")
    )
    numbered = (
        select(job.c.last_seq).scalar_subquery(),
        select(job.c.progress).scalar_subquery(),
    )
    return select(*counts, *numbered).add_cte(_insert_events(job))


@lru_cache(maxsize=4)
def claim_statement(claim: Any) -> Any:
    """`claim` (an UPDATE that takes one job, RETURNING every column) with the job's
    `job.started {attempt}` inserted from the row it returns: numbered `last_seq`, which
    the claim raised by one, stamped `:ts`. Selects the claimed row; none, and nothing
    inserted, when the job was not claimable."""
    job = claim.cte("job")
    started = t.events.insert().from_select(
        ["job_id", "seq", "type", "ts", "progress", "data"],
        select(
            job.c.id,
            job.c.last_seq,
            literal(EventType.JOB_STARTED.value),
            bindparam("ts", type_=t.events.c.ts.type),
            job.c.progress,
            func.json_build_object("attempt", job.c.attempts),
        ),
    )
    return select(*job.c).add_cte(started.cte("started"))
