"""The `Store` over SQLAlchemy 2 async: SQLite (WAL, aiosqlite) or PostgreSQL (psycopg 3).

Portable SQL only. SQLite allows one writer at a time, so writes in this process are
serialised by an asyncio.Lock (no "database is locked" retries); on PostgreSQL the job
row is locked with SELECT ... FOR UPDATE instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from backend.domain import Artifact, Checkpoint, Job, JobStatus, Review, utcnow
from backend.errors import Conflict, GenFlowError
from backend.events import Event, EventType, NewEvent
from backend.store import tables as t
from backend.store.base import UNSET, Decision, JobUpdate


class StoreUnavailable(GenFlowError):
    status = 503
    code = "store_unavailable"


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SQLStore:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine: AsyncEngine = create_async_engine(url, echo=echo)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    # -- lifecycle -----------------------------------------------------------------

    async def initialize(self) -> None:
        from backend.store.migrate import upgrade

        await asyncio.to_thread(upgrade, self.url)

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        lock = self._write_lock or contextlib.nullcontext()
        async with lock:
            try:
                async with self.engine.begin() as conn:
                    yield conn
            except SQLAlchemyError as exc:
                raise StoreUnavailable(f"database error: {type(exc).__name__}") from exc

    # -- jobs ------------------------------------------------------------------------

    async def create_job(self, job: Job, events: Sequence[NewEvent]) -> tuple[Job, list[Event]]:
        async with self._write() as conn:
            await conn.execute(
                insert(t.jobs).values(
                    id=job.id,
                    flow=job.flow,
                    status=job.status.value,
                    owner=job.owner,
                    input=job.input,
                    created_at=job.created_at,
                    updated_at=job.updated_at,
                    progress=job.progress,
                    session_id=job.session_id,
                    workflow_id=job.workflow_id,
                    attempts=0,
                    last_seq=0,
                    shared=job.checkpoint.shared,
                    next_node=job.checkpoint.next_node,
                    runtime=job.checkpoint.runtime,
                )
            )
            stored = await self._append(conn, job.id, 0, job.progress, events)
            await conn.execute(
                update(t.jobs).where(t.jobs.c.id == job.id).values(last_seq=len(stored))
            )
            row = await self._job_row(conn, job.id)
        return await self._to_job(row), stored

    async def get_job(self, job_id: str) -> Job | None:
        async with self.engine.connect() as conn:
            row = await self._job_row(conn, job_id)
            if row is None:
                return None
            return await self._to_job(row, conn)

    async def list_jobs(
        self,
        *,
        owner: str | None,
        status: JobStatus | None = None,
        flow: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[Job]:
        query = select(t.jobs).order_by(t.jobs.c.id.desc()).limit(limit)
        if owner is not None:
            query = query.where(t.jobs.c.owner == owner)
        if status is not None:
            query = query.where(t.jobs.c.status == status.value)
        if flow is not None:
            query = query.where(t.jobs.c.flow == flow)
        if before is not None:
            query = query.where(t.jobs.c.id < before)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            return [await self._to_job(row, conn) for row in rows]

    async def update_job(
        self,
        job_id: str,
        update_: JobUpdate,
        events: Sequence[NewEvent] = (),
        *,
        expect: Collection[JobStatus] | None = None,
    ) -> tuple[Job, list[Event]] | None:
        async with self._write() as conn:
            row = await self._job_row(conn, job_id, lock=True)
            if row is None:
                return None
            if expect is not None and JobStatus(row["status"]) not in expect:
                return None
            values = self._values(update_)
            if isinstance(update_.review, Review):
                await self._insert_review(conn, job_id, update_.review)
            progress = values.get("progress", row["progress"])
            stored = await self._append(conn, job_id, row["last_seq"], progress, events)
            values["last_seq"] = row["last_seq"] + len(stored)
            values["updated_at"] = utcnow()
            if update_.start_attempt:
                values["attempts"] = row["attempts"] + 1
            await conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(**values))
            job = await self._to_job(await self._job_row(conn, job_id), conn)
        return job, stored

    @staticmethod
    def _values(update_: JobUpdate) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in ("progress", "current_node", "result", "error"):
            value = getattr(update_, name)
            if value is not UNSET:
                values[name] = value
        if update_.status is not UNSET:
            values["status"] = update_.status.value
        if update_.checkpoint is not UNSET:
            values["shared"] = update_.checkpoint.shared
            values["next_node"] = update_.checkpoint.next_node
            values["runtime"] = update_.checkpoint.runtime
        if update_.review is not UNSET:
            values["review_id"] = update_.review.id if update_.review else None
        return values

    async def decide_review(
        self, job_id: str, decision: Decision, event_: NewEvent
    ) -> tuple[Job, list[Event]]:
        async with self._write() as conn:
            row = await self._job_row(conn, job_id, lock=True)
            review_row = (
                (
                    await conn.execute(
                        select(t.reviews).where(
                            t.reviews.c.id == decision.review_id, t.reviews.c.job_id == job_id
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is None or review_row is None:
                raise Conflict(
                    f"review {decision.review_id!r} is not a review of this job",
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
            if (
                row["status"] != JobStatus.WAITING_FOR_REVIEW
                or row["review_id"] != decision.review_id
            ):
                raise Conflict(
                    "no review is open for this job",
                    {"status": row["status"], "open_review_id": row["review_id"]},
                )
            await conn.execute(
                update(t.reviews)
                .where(t.reviews.c.id == decision.review_id)
                .values(
                    decision=decision.decision,
                    comment=decision.comment,
                    decided_by=decision.by,
                    decided_via=decision.via,
                    decided_at=utcnow(),
                )
            )
            runtime = dict(row["runtime"])
            runtime["decision"] = {
                "review_id": decision.review_id,
                "decision": decision.decision,
                "comment": decision.comment,
                "by": decision.by,
                "via": decision.via,
            }
            stored = await self._append(conn, job_id, row["last_seq"], row["progress"], [event_])
            await conn.execute(
                update(t.jobs)
                .where(t.jobs.c.id == job_id)
                .values(
                    status=JobStatus.RUNNING.value,
                    review_id=None,
                    runtime=runtime,
                    last_seq=row["last_seq"] + len(stored),
                    updated_at=utcnow(),
                )
            )
            job = await self._to_job(await self._job_row(conn, job_id), conn)
        return job, stored

    async def get_review(self, review_id: str) -> Review | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(t.reviews).where(t.reviews.c.id == review_id)))
                .mappings()
                .first()
            )
        return _to_review(row) if row else None

    async def job_ids(self, statuses: Collection[JobStatus]) -> list[str]:
        query = select(t.jobs.c.id).where(t.jobs.c.status.in_([s.value for s in statuses]))
        async with self.engine.connect() as conn:
            return list((await conn.execute(query.order_by(t.jobs.c.id))).scalars())

    async def count_by_status(self) -> dict[str, int]:
        query = select(t.jobs.c.status, func.count()).group_by(t.jobs.c.status)
        async with self.engine.connect() as conn:
            return {status: count for status, count in (await conn.execute(query)).all()}

    # -- events ----------------------------------------------------------------------

    async def events_after(self, job_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        query = (
            select(t.events)
            .where(t.events.c.job_id == job_id, t.events.c.seq > after)
            .order_by(t.events.c.seq)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            Event(
                job_id=row["job_id"],
                type=EventType(row["type"]),
                data=row["data"],
                ts=_aware(row["ts"]),
                progress=row["progress"],
                seq=row["seq"],
            )
            for row in rows
        ]

    async def _append(
        self,
        conn: AsyncConnection,
        job_id: str,
        last_seq: int,
        progress: int,
        events: Sequence[NewEvent],
    ) -> list[Event]:
        stored = [
            Event(job_id=job_id, type=e.type, data=e.data, ts=e.ts, progress=progress, seq=seq)
            for seq, e in enumerate(events, start=last_seq + 1)
        ]
        if stored:
            await conn.execute(
                insert(t.events),
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

    # -- artifacts and batch items ---------------------------------------------------

    async def save_artifact(self, artifact: Artifact) -> Artifact:
        async with self._write() as conn:
            await conn.execute(
                insert(t.artifacts).values(
                    id=artifact.id,
                    job_id=artifact.job_id,
                    owner=artifact.owner,
                    kind=artifact.kind,
                    mime=artifact.mime,
                    name=artifact.name,
                    size=artifact.size,
                    data=artifact.data,
                    created_at=artifact.created_at,
                )
            )
        return artifact

    async def get_artifact(self, artifact_id: str, *, with_data: bool = True) -> Artifact | None:
        columns = [c for c in t.artifacts.c if with_data or c.name != "data"]
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(*columns).where(t.artifacts.c.id == artifact_id)))
                .mappings()
                .first()
            )
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
            created_at=_aware(row["created_at"]),
            data=row.get("data"),
        )

    async def save_batch_item(self, job_id: str, key: str, index: int, result: Any) -> None:
        async with self._write() as conn:
            await conn.execute(
                delete(t.batch_items).where(
                    t.batch_items.c.job_id == job_id,
                    t.batch_items.c.key == key,
                    t.batch_items.c.idx == index,
                )
            )
            await conn.execute(
                insert(t.batch_items).values(job_id=job_id, key=key, idx=index, result=result)
            )

    async def batch_items(self, job_id: str, key: str) -> dict[int, Any]:
        query = select(t.batch_items.c.idx, t.batch_items.c.result).where(
            t.batch_items.c.job_id == job_id, t.batch_items.c.key == key
        )
        async with self.engine.connect() as conn:
            return {idx: result for idx, result in (await conn.execute(query)).all()}

    # -- rows to records -------------------------------------------------------------

    async def _job_row(self, conn: AsyncConnection, job_id: str, *, lock: bool = False) -> Any:
        query = select(t.jobs).where(t.jobs.c.id == job_id)
        if lock and not self.is_sqlite:
            query = query.with_for_update()
        return (await conn.execute(query)).mappings().first()

    async def _insert_review(self, conn: AsyncConnection, job_id: str, review: Review) -> None:
        await conn.execute(
            insert(t.reviews).values(
                id=review.id,
                job_id=job_id,
                node=review.node,
                prompt=review.prompt,
                options=review.options,
                payload=review.payload,
                requested_at=review.requested_at,
            )
        )

    async def _to_job(self, row: Any, conn: AsyncConnection | None = None) -> Job:
        review = None
        if row["review_id"]:
            if conn is None:
                review = await self.get_review(row["review_id"])
            else:
                review_row = (
                    (
                        await conn.execute(
                            select(t.reviews).where(t.reviews.c.id == row["review_id"])
                        )
                    )
                    .mappings()
                    .first()
                )
                review = _to_review(review_row) if review_row else None
        return Job(
            id=row["id"],
            flow=row["flow"],
            status=JobStatus(row["status"]),
            input=row["input"],
            owner=row["owner"],
            created_at=_aware(row["created_at"]),
            updated_at=_aware(row["updated_at"]),
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
        )


def _to_review(row: Any) -> Review:
    return Review(
        id=row["id"],
        node=row["node"],
        prompt=row["prompt"],
        options=list(row["options"]),
        payload=row["payload"],
        requested_at=_aware(row["requested_at"]),
        decision=row["decision"],
        comment=row["comment"],
        decided_by=row["decided_by"],
        decided_via=row["decided_via"],
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
