"""The `Store` over SQLAlchemy 2: SQLite (WAL, the embedded default) or PostgreSQL.

The SQL lives in `queries` as synchronous functions of one connection; this class decides
where they run. On SQLite each store call is ONE hop to a worker thread running the
standard `sqlite3` driver: writes on a single thread (SQLite has one writer, so writes
are serialised there, in order, with no "database is locked" retries) that keeps one
connection open, reads on a few threads (`thread_lane.py`). An async driver would
instead cross threads for every cursor, execute, fetch and close, and a write
transaction would hold the database for a dozen event-loop turns - under load that, not
SQLite, limits throughput. On PostgreSQL the same functions run
through `AsyncConnection.run_sync` (psycopg 3), with the decided job row locked FOR UPDATE.
Its pooled connections are pinged before use when they may be dead (`PrePing`), so a
restarted server costs the calls that were running when it went down, not the next call
on every stale connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, select
from sqlalchemy import event as sa_event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from backend import fast_json
from backend.domain import Artifact, Job, JobStatus, Review
from backend.errors import StoreUnavailable
from backend.events import Event, NewEvent
from backend.knowledge.model import Chunk, Document, KnowledgeBase
from backend.people.model import Account, TokenRecord
from backend.sessions.model import Frame, NewFrame, Session
from backend.store import knowledge_queries as kq
from backend.store import people_queries as pq
from backend.store import queries as q
from backend.store import review_queries as rq
from backend.store import session_queries as sq
from backend.store import workflow_queries as wq
from backend.store.base import BatchItem, Decision, JobUpdate
from backend.store.group_commit import GroupCommit
from backend.store.kept_connections import KeptConnections
from backend.store.migrate import driver_url, sync_url
from backend.store.pre_ping import PrePing
from backend.store.thread_lane import ThreadLane
from backend.workflows.model import Workflow

T = TypeVar("T")
READERS = 4  # SQLite reader threads (WAL lets them read while the writer writes)
KEPT = 6  # PostgreSQL autocommit connections kept between calls, of the pool's 10


class SQLStore:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = driver_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self._write_failed = self._read_failed = False
        self._ping: asyncio.Future[Any] | None = None  # the ping in flight, shared
        if self.is_sqlite:
            self._engine = create_engine(
                sync_url(self.url),
                echo=echo,
                pool_size=READERS + 1,
                json_serializer=fast_json.dumps,  # checkpoints, events: the writer's JSON
            )
            sa_event.listen(self._engine, "connect", _sqlite_pragmas)
            self._writer = GroupCommit(self._engine.connect)
            self._readers = ThreadLane("genflow-db-read", READERS)
            self._reader_conn = threading.local()
            self._reader_conns: list[Connection] = []  # closed at shutdown
            self._lock = threading.Lock()
        else:
            # At most 10 connections a process: replicas + workers multiply it, and
            # PostgreSQL's default max_connections is 100 (docs/operations.md, sizing).
            # All 10 are kept once opened (no overflow): an overflow connection is closed
            # when it is checked in, so a busy worker opened one per job or so, each a new
            # server backend and a password exchange (docs/performance.md, scale_out).
            self._async_engine = create_async_engine(
                self.url, echo=echo, pool_size=10, max_overflow=0, json_serializer=fast_json.dumps
            )
            engine = self._async_engine.sync_engine
            pre_ping = PrePing(engine.dialect)
            pre_ping.listen(engine.pool)
            # A write that is one statement (a runner's checkpoint or events,
            # `backend/store/pg_append.py`) is its own transaction: in autocommit it costs
            # one round trip, not three (BEGIN, the statement, COMMIT). So are reads: under
            # READ COMMITTED every statement takes its own snapshot, in a transaction or
            # not, so a read loses nothing but BEGIN and ROLLBACK. The same pool.
            autocommit = self._async_engine.execution_options(isolation_level="AUTOCOMMIT")
            # ... and those connections stay checked out between calls (at most KEPT: the
            # rest of the pool is for transactions).
            self._kept = KeptConnections(autocommit, pre_ping, keep=KEPT)

    @property
    def failing(self) -> bool:
        """A failed write is cleared only by a write that works: a full disk fails writes
        while reads and pings still work, and health must not say `ok` meanwhile."""
        return self._write_failed or self._read_failed

    # -- lifecycle -----------------------------------------------------------------

    async def initialize(self) -> None:
        from backend.store.migrate import upgrade

        await asyncio.to_thread(upgrade, self.url)

    async def close(self) -> None:
        if self.is_sqlite:
            await asyncio.to_thread(self._shutdown)
        else:
            await self._kept.close()
            await self._async_engine.dispose()

    def _shutdown(self) -> None:
        self._writer.close_connection()  # on its own thread, after queued writes
        self._writer.shutdown()
        self._readers.shutdown()
        with self._lock:
            kept, self._reader_conns = self._reader_conns, []
        for conn in kept:
            conn.close()
        self._engine.dispose()

    async def ping(self) -> None:
        """A round trip to the database. Concurrent pings share one: a storm of health
        checks (a load balancer, 2,000 connections at once) costs one query at a time."""
        if self._ping is None or self._ping.get_loop() is not asyncio.get_running_loop():
            self._ping = asyncio.ensure_future(
                self._read(lambda conn: conn.execute(select(1)).scalar())
            )
            self._ping.add_done_callback(self._ping_done)
        await asyncio.shield(self._ping)

    def _ping_done(self, ping: asyncio.Future[Any]) -> None:
        if self._ping is ping:
            self._ping = None
        if not ping.cancelled():
            ping.exception()  # retrieved here, should every caller have gone

    # -- where the SQL runs ------------------------------------------------------------

    async def _write(self, work: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """Run `work` in one transaction (committed, or rolled back if it raises).
        `one_statement`: `work` runs a single statement on PostgreSQL, which is then its
        own transaction (autocommit)."""
        try:
            with _translated_errors():
                result = await self._run_write(work, one_statement)
        except StoreUnavailable:
            self._write_failed = True
            raise
        self._write_failed = self._read_failed = False
        return result

    async def _run_write(self, work: Callable[[Connection], T], one_statement: bool) -> T:
        if self.is_sqlite:
            return await self._writer.write(work)
        if one_statement:
            return await self._kept.run(work)
        async with self._async_engine.begin() as conn:
            return await conn.run_sync(work)

    async def _read(self, work: Callable[[Connection], T]) -> T:
        try:
            with _translated_errors():
                result = await self._run_read(work)
        except StoreUnavailable:
            self._read_failed = True
            raise
        self._read_failed = False
        return result

    async def _run_read(self, work: Callable[[Connection], T]) -> T:
        if self.is_sqlite:
            return await self._readers.run(partial(self._connected, work))
        return await self._kept.run(work)

    def _connected(self, work: Callable[[Connection], T]) -> T:
        """On a reader thread: its own connection, kept open (a pool checkout, reset and
        check-in cost more than most reads); each read ends its transaction, so it never
        holds an old WAL snapshot."""
        conn = getattr(self._reader_conn, "conn", None)
        if conn is None or conn.invalidated or conn.closed:
            stale, conn = conn, self._engine.connect()
            self._reader_conn.conn = conn
            with self._lock:
                if stale is not None:  # a lost connection is replaced, not kept
                    self._reader_conns.remove(stale)
                self._reader_conns.append(conn)
        try:
            return work(conn)
        finally:
            if not conn.invalidated:
                conn.rollback()

    # -- jobs ------------------------------------------------------------------------

    async def create_job(self, job: Job, events: Sequence[NewEvent]) -> tuple[Job, list[Event]]:
        return await self._write(partial(q.create_job, job=job, events=events))

    async def get_job(self, job_id: str) -> Job | None:
        return await self._read(partial(q.get_job, job_id=job_id))

    async def job_status(self, job_id: str) -> JobStatus | None:
        return await self._read(partial(q.job_status, job_id=job_id))

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
        return await self._read(
            partial(
                q.list_jobs,
                owner=owner,
                status=status,
                flow=flow,
                limit=limit,
                before=before,
                assignee=assignee,
            )
        )

    async def update_job(
        self,
        job_id: str,
        update_: JobUpdate,
        events: Sequence[NewEvent] = (),
        *,
        expect: Collection[JobStatus] | None = None,
        fence: int | None = None,
    ) -> tuple[Job, list[Event]] | None:
        return await self._write(
            partial(
                q.update_job,
                job_id=job_id,
                update_=update_,
                events=events,
                expect=expect,
                fence=fence,
            )
        )

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
        return await self._write(
            partial(
                q.append_events,
                job_id=job_id,
                events=events,
                progress=progress,
                expect=expect,
                fence=fence,
                update_=update_,
                items=items,
            ),
            one_statement=True,  # on PostgreSQL (pg_append)
        )

    # -- leases ----------------------------------------------------------------------

    async def claim_job(
        self, job_id: str, *, owner: str, lease_seconds: float, steal: bool = False
    ) -> tuple[Job, list[Event]] | None:
        return await self._write(
            partial(
                q.claim_job, job_id=job_id, owner=owner, lease_seconds=lease_seconds, steal=steal
            ),
            one_statement=True,  # on PostgreSQL (pg_append.claim_statement)
        )

    async def renew_lease(self, job_id: str, *, fence: int, lease_seconds: float) -> bool:
        return await self._write(
            partial(q.renew_lease, job_id=job_id, fence=fence, lease_seconds=lease_seconds)
        )

    async def release_lease(self, job_id: str, *, fence: int) -> None:
        await self._write(partial(q.release_lease, job_id=job_id, fence=fence))

    async def unowned_jobs(self, *, grace_seconds: float, limit: int = 500) -> list[str]:
        return await self._read(partial(q.unowned_jobs, grace_seconds=grace_seconds, limit=limit))

    async def decide_review(
        self, job_id: str, decision: Decision, event: NewEvent
    ) -> tuple[Job, list[Event]]:
        return await self._write(
            partial(q.decide_review, job_id=job_id, decision=decision, event=event)
        )

    async def get_review(self, review_id: str) -> Review | None:
        return await self._read(partial(q.get_review, review_id=review_id))

    # -- review assignees, deadlines, audit --------------------------------------------

    async def is_assignee(self, job_id: str, principal: str) -> bool:
        return await self._read(partial(q.is_assignee, job_id=job_id, principal=principal))

    async def job_reviews(self, job_id: str) -> list[Review]:
        return await self._read(partial(rq.job_reviews, job_id=job_id))

    async def due_reviews(self, now: datetime, limit: int = 100) -> list[tuple[str, Review]]:
        return await self._read(partial(rq.due_reviews, now=now, limit=limit))

    async def remind_review(
        self, job_id: str, review_id: str, event: NewEvent, *, now: datetime
    ) -> list[Event] | None:
        return await self._write(
            partial(rq.remind_review, job_id=job_id, review_id=review_id, event=event, now=now)
        )

    async def time_out_review(
        self,
        job_id: str,
        decision: Decision,
        events: Sequence[NewEvent],
        *,
        cancel: bool,
        now: datetime,
    ) -> tuple[Job, list[Event]] | None:
        return await self._write(
            partial(
                rq.time_out_review,
                job_id=job_id,
                decision=decision,
                events=events,
                cancel=cancel,
                now=now,
            )
        )

    async def job_ids(self, statuses: Collection[JobStatus]) -> list[str]:
        return await self._read(partial(q.job_ids, statuses=statuses))

    async def count_by_status(self) -> dict[str, int]:
        return await self._read(q.count_by_status)

    # -- events ----------------------------------------------------------------------

    async def events_after(self, job_id: str, after: int = 0, limit: int = 1000) -> list[Event]:
        return await self._read(partial(q.events_after, job_id=job_id, after=after, limit=limit))

    # -- artifacts and batch items ---------------------------------------------------

    async def save_artifact(
        self, artifact: Artifact, event: NewEvent | None = None, *, fence: int | None = None
    ) -> list[Event] | None:
        return await self._write(
            partial(q.save_artifact, artifact=artifact, event=event, fence=fence),
            one_statement=fence is not None,  # on PostgreSQL (pg_append.save_artifact)
        )

    async def get_artifact(self, artifact_id: str, *, with_data: bool = True) -> Artifact | None:
        return await self._read(
            partial(q.get_artifact, artifact_id=artifact_id, with_data=with_data)
        )

    async def batch_items(self, job_id: str, key: str) -> dict[int, Any]:
        return await self._read(partial(q.batch_items, job_id=job_id, key=key))

    # -- sessions --------------------------------------------------------------------

    async def create_session(
        self, session: Session, frames: Sequence[NewFrame] = ()
    ) -> tuple[Session, list[Frame]]:
        return await self._write(partial(sq.create_session, session=session, frames=frames))

    async def get_session(self, session_id: str) -> Session | None:
        return await self._read(partial(sq.get_session, session_id=session_id))

    async def list_sessions(
        self, *, owner: str | None, limit: int = 50, before: str | None = None
    ) -> list[Session]:
        return await self._read(partial(sq.list_sessions, owner=owner, limit=limit, before=before))

    async def update_session(
        self,
        session_id: str,
        *,
        version: int,
        changes: Mapping[str, Any],
        frames: Sequence[NewFrame] = (),
    ) -> tuple[Session, list[Frame]] | None:
        sq.check_changes(changes)  # a ValueError here, not a StoreUnavailable from the thread
        return await self._write(
            partial(
                sq.update_session,
                session_id=session_id,
                version=version,
                changes=changes,
                frames=frames,
            )
        )

    async def append_frames(self, session_id: str, frames: Sequence[NewFrame]) -> list[Frame]:
        if not frames:
            return []
        return await self._write(partial(sq.append_frames, session_id=session_id, frames=frames))

    async def frames_after(self, session_id: str, after: int = 0, limit: int = 1000) -> list[Frame]:
        return await self._read(
            partial(sq.frames_after, session_id=session_id, after=after, limit=limit)
        )

    async def delete_session(self, session_id: str) -> bool:
        return await self._write(partial(sq.delete_session, session_id=session_id))

    async def expired_sessions(self, now: datetime, limit: int = 500) -> list[str]:
        return await self._read(partial(sq.expired_sessions, now=now, limit=limit))

    # -- knowledge bases -------------------------------------------------------------

    async def create_base(
        self, base: KnowledgeBase, documents: Sequence[tuple[Document, Sequence[Chunk]]] = ()
    ) -> tuple[KnowledgeBase, list[Document]]:
        return await self._write(partial(kq.create_base, base=base, documents=documents))

    async def get_base(self, ref: str, *, owner: str | None = None) -> KnowledgeBase | None:
        return await self._read(partial(kq.get_base, ref=ref, owner=owner))

    async def list_bases(self, owner: str | None) -> list[KnowledgeBase]:
        return await self._read(partial(kq.list_bases, owner=owner))

    async def delete_base(self, base_id: str) -> bool:
        return await self._write(partial(kq.delete_base, base_id=base_id))

    async def add_document(
        self, base_id: str, document: Document, chunks: Sequence[Chunk]
    ) -> tuple[KnowledgeBase, Document, bool] | None:
        return await self._write(
            partial(kq.add_document, base_id=base_id, document=document, chunks=chunks)
        )

    async def list_documents(self, base_id: str) -> list[Document]:
        return await self._read(partial(kq.list_documents, base_id=base_id))

    async def search(self, base_id: str, query: str, top_k: int = 5) -> list[dict[str, Any]]:
        return await self._read(partial(kq.search, base_id=base_id, query=query, top_k=top_k))

    # -- workflows -------------------------------------------------------------------

    async def create_workflow(self, workflow: Workflow) -> Workflow:
        return await self._write(partial(wq.create_workflow, workflow=workflow))

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        return await self._read(partial(wq.get_workflow, workflow_id=workflow_id))

    async def list_workflows(
        self, *, owner: str | None, limit: int = 50, before: str | None = None
    ) -> list[Workflow]:
        return await self._read(partial(wq.list_workflows, owner=owner, limit=limit, before=before))

    async def update_workflow(
        self, workflow_id: str, *, version: int, changes: Mapping[str, Any]
    ) -> Workflow | None:
        return await self._write(
            partial(wq.update_workflow, workflow_id=workflow_id, version=version, changes=changes)
        )

    async def delete_workflow(self, workflow_id: str) -> bool:
        return await self._write(partial(wq.delete_workflow, workflow_id=workflow_id))

    async def workflow_jobs(
        self,
        workflow_id: str,
        *,
        flow: str = "workflow",
        limit: int = 50,
        before: str | None = None,
    ) -> list[Job]:
        return await self._read(
            partial(
                wq.workflow_jobs, workflow_id=workflow_id, flow=flow, limit=limit, before=before
            )
        )

    # -- people ----------------------------------------------------------------------

    async def create_account(self, account: Account) -> None:
        await self._write(partial(pq.create_account, account=account))

    async def get_account(self, name: str) -> Account | None:
        return await self._read(partial(pq.get_account, name=name))

    async def list_accounts(self) -> list[Account]:
        return await self._read(pq.list_accounts)

    async def count_accounts(self) -> int:
        return await self._read(pq.count_accounts)

    async def set_password(self, name: str, password_hash: str) -> bool:
        return await self._write(partial(pq.set_password, name=name, password_hash=password_hash))

    async def delete_account(self, name: str, at: datetime) -> list[str] | None:
        return await self._write(partial(pq.delete_account, name=name, at=at))

    async def record_token(self, record: TokenRecord) -> None:
        await self._write(partial(pq.record_token, record=record))

    async def get_token(self, token_id: str) -> TokenRecord | None:
        return await self._read(partial(pq.get_token, token_id=token_id))

    async def list_tokens(
        self, *, principal: str | None, limit: int = 50, before: str | None = None
    ) -> list[TokenRecord]:
        return await self._read(
            partial(pq.list_tokens, principal=principal, limit=limit, before=before)
        )

    async def revoke_token(self, token_id: str, at: datetime) -> TokenRecord | None:
        return await self._write(partial(pq.revoke_token, token_id=token_id, at=at))

    async def revoke_tokens_of(self, principal: str, at: datetime) -> list[str]:
        return await self._write(partial(pq.revoke_tokens_of, principal=principal, at=at))

    async def link_slack(self, principal: str, account: str, at: datetime) -> None:
        await self._write(partial(pq.link_slack, principal=principal, account=account, at=at))

    async def unlink_slack(self, principal: str) -> bool:
        return await self._write(partial(pq.unlink_slack, principal=principal))

    async def linked_account(self, principal: str) -> str | None:
        return await self._read(partial(pq.linked_account, principal=principal))

    async def slack_links(self) -> list[tuple[str, str]]:
        return await self._read(pq.slack_links)

    async def prune_tokens(self, expired_before: datetime) -> int:
        return await self._write(partial(pq.prune_tokens, expired_before=expired_before))


@contextlib.contextmanager
def _translated_errors() -> Iterator[None]:
    """The one place SQLAlchemy's exceptions become GenFlow's (a 503, never a 500)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"database error: {type(exc).__name__}") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
