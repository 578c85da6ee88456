"""The Store contract: one suite, run against every backend (SQLite and PostgreSQL).

The PostgreSQL cases need a server (tests/services.py): without GENFLOW_TEST_POSTGRES_URL
they are skipped, and SQLite runs alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from backend.domain import Checkpoint, Job, JobStatus, Review, utcnow
from backend.errors import Conflict
from backend.events import EventType, NewEvent
from backend.ids import new_id
from backend.store.base import Decision, JobUpdate
from backend.store.fulltext import DIALECT_OBJECTS
from backend.store.migrate import alembic_config, sync_url, upgrade
from backend.store.sqlalchemy import SQLStore
from backend.store.tables import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SQLStore]:
    """A migrated, empty store; PostgreSQL's database is the test's own (`postgres_url`),
    looked up only for that case so that SQLite needs no server."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = SQLStore(url)
    await store.initialize()
    yield store
    await store.close()


def new_job(owner: str = "alice") -> Job:
    now = utcnow()
    return Job(
        id=new_id("job"),
        flow="review",
        status=JobStatus.PENDING,
        input={"task": "t"},
        owner=owner,
        created_at=now,
        updated_at=now,
        checkpoint=Checkpoint(shared={"a": 1}),
    )


def created() -> list[NewEvent]:
    return [NewEvent(EventType.JOB_CREATED, {"flow": "review"})]


def portable(name: str | None, type_: str, parent_names: object) -> bool:
    """Not the full-text index objects one database has and tables.py leaves out on
    purpose (migration 0005, backend/store/fulltext.py): exactly those, nothing else."""
    return name not in DIALECT_OBJECTS


async def test_the_migrated_schema_matches_the_tables(store: SQLStore) -> None:
    engine = create_engine(sync_url(store.url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": portable})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


async def test_the_migrations_go_down_and_up_again(store: SQLStore) -> None:
    config = alembic_config(store.url)
    await asyncio.to_thread(command.downgrade, config, "0001")
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(upgrade, store.url)
    job, _ = await store.create_job(new_job(), created())
    assert await store.claim_job(job.id, owner="w1", lease_seconds=60) is not None


async def test_create_and_read_back(store: SQLStore) -> None:
    job, events = await store.create_job(new_job(), created())
    assert [e.seq for e in events] == [1]
    again = await store.get_job(job.id)
    assert again is not None
    assert again.checkpoint.shared == {"a": 1}
    assert again.last_seq == 1 and again.status is JobStatus.PENDING


async def test_updates_are_conditional_on_status(store: SQLStore) -> None:
    job, _ = await store.create_job(new_job(), created())
    refused = await store.update_job(
        job.id,
        JobUpdate(progress=50),
        [NewEvent(EventType.NODE_PROGRESS, {})],
        expect={JobStatus.RUNNING},
    )
    assert refused is None
    assert [e.seq for e in await store.events_after(job.id)] == [1]
    saved = await store.update_job(
        job.id,
        JobUpdate(status=JobStatus.RUNNING, start_attempt=True),
        [NewEvent(EventType.JOB_STARTED, {"attempt": 1})],
        expect={JobStatus.PENDING},
    )
    assert saved is not None
    assert saved[0].attempts == 1 and saved[1][0].seq == 2


async def test_concurrent_appends_keep_seq_contiguous(store: SQLStore) -> None:
    job, _ = await store.create_job(new_job(), created())
    await asyncio.gather(
        *(
            store.update_job(job.id, JobUpdate(), [NewEvent(EventType.NODE_PROGRESS, {"i": i})] * 2)
            for i in range(20)
        )
    )
    events = await store.events_after(job.id)
    assert [e.seq for e in events] == list(range(1, 42))


async def test_the_first_decision_wins(store: SQLStore) -> None:
    job, _ = await store.create_job(new_job(), created())
    review = Review(
        id=new_id("rev"),
        node="Gate",
        prompt="ok?",
        options=["approve", "reject"],
        payload={},
        requested_at=utcnow(),
    )
    await store.update_job(job.id, JobUpdate(status=JobStatus.WAITING_FOR_REVIEW, review=review))

    async def decide(decision: str) -> str:
        try:
            await store.decide_review(
                job.id,
                Decision(review.id, decision, None, decision, "api"),
                NewEvent(EventType.REVIEW_DECIDED, {"decision": decision}),
            )
            return decision
        except Conflict:
            return "refused"

    outcomes = await asyncio.gather(*(decide(d) for d in ["approve", "reject"] * 5))
    assert outcomes.count("refused") == 9
    winner = next(o for o in outcomes if o != "refused")
    stored = await store.get_job(job.id)
    assert stored is not None and stored.status is JobStatus.RUNNING and stored.review is None
    assert stored.checkpoint.runtime["decision"]["decision"] == winner
    decided = [e for e in await store.events_after(job.id) if e.type is EventType.REVIEW_DECIDED]
    assert len(decided) == 1


async def test_list_is_newest_first_and_pages_by_cursor(store: SQLStore) -> None:
    ids = [(await store.create_job(new_job(), created()))[0].id for _ in range(5)]
    await store.create_job(new_job(owner="bob"), created())
    first = await store.list_jobs(owner="alice", limit=3)
    rest = await store.list_jobs(owner="alice", limit=3, before=first[-1].id)
    assert [j.id for j in first + rest] == ids[::-1]


async def test_artifacts_round_trip(store: SQLStore) -> None:
    from backend.domain import Artifact

    job, _ = await store.create_job(new_job(), created())
    artifact = Artifact(
        id=new_id("art"),
        job_id=job.id,
        owner="alice",
        kind="image",
        mime="image/png",
        name="a.png",
        size=3,
        created_at=utcnow(),
        data=b"abc",
    )
    assert await store.save_artifact(artifact) == []
    meta = await store.get_artifact(artifact.id, with_data=False)
    full = await store.get_artifact(artifact.id)
    assert meta is not None and meta.data is None and meta.size == 3
    assert full is not None and full.data == b"abc"


async def test_an_update_returns_the_job_as_stored(store: SQLStore) -> None:
    job, _ = await store.create_job(new_job(), created())
    review = Review(
        id=new_id("rev"),
        node="Gate",
        prompt="ok?",
        options=["approve", "reject"],
        payload={"x": [1, 2]},
        requested_at=utcnow(),
    )
    saved = await store.update_job(
        job.id,
        JobUpdate(
            status=JobStatus.WAITING_FOR_REVIEW,
            review=review,
            progress=40,
            current_node="Gate",
            checkpoint=Checkpoint({"a": 2}, "Gate", {"visits": {"Gate": 1}}),
            start_attempt=True,
        ),
        [NewEvent(EventType.NODE_STARTED, {}), NewEvent(EventType.REVIEW_REQUESTED, {})],
        expect={JobStatus.PENDING},
    )
    assert saved is not None
    returned, events = saved
    assert [e.seq for e in events] == [2, 3] and {e.progress for e in events} == {40}
    read = await store.get_job(job.id)
    assert returned == read
    assert read is not None and read.review is not None and read.review.payload == {"x": [1, 2]}
    assert read.attempts == 1 and read.last_seq == 3


async def test_reads_and_writes_from_many_tasks_at_once(store: SQLStore) -> None:
    jobs = [(await store.create_job(new_job(), created()))[0] for _ in range(5)]

    async def write(job: Job, i: int) -> None:
        await store.update_job(
            job.id, JobUpdate(progress=i), [NewEvent(EventType.NODE_PROGRESS, {})]
        )

    async def read(job: Job) -> None:
        assert await store.get_job(job.id) is not None
        await store.events_after(job.id)

    await asyncio.gather(
        *(write(job, i) for i in range(20) for job in jobs), *(read(job) for job in jobs * 20)
    )
    for job in jobs:
        assert [e.seq for e in await store.events_after(job.id)] == list(range(1, 22))


async def test_append_events_is_a_light_conditional_update(store: SQLStore) -> None:
    job, _ = await store.create_job(new_job(), created())
    progress = [NewEvent(EventType.NODE_PROGRESS, {"i": i}) for i in range(3)]
    assert await store.append_events(job.id, progress, expect={JobStatus.RUNNING}) is None
    stored = await store.append_events(job.id, progress, progress=30, expect={JobStatus.PENDING})
    assert stored is not None and [e.seq for e in stored] == [2, 3, 4]
    assert {e.progress for e in stored} == {30}
    read = await store.get_job(job.id)
    assert read is not None and read.last_seq == 4 and read.progress == 30
    assert read.checkpoint.shared == {"a": 1}, "nothing else changed"
    assert await store.append_events("job_nope", progress) is None


async def test_a_broken_database_is_reported_as_unavailable_on_reads_and_writes(
    tmp_path: Path,
) -> None:
    from backend.errors import StoreUnavailable

    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a SQLite database" * 100)
    store = SQLStore(f"sqlite+aiosqlite:///{path}")
    try:
        with pytest.raises(StoreUnavailable):
            await store.get_job("job_1")
        with pytest.raises(StoreUnavailable):
            await store.create_job(new_job(), created())
    finally:
        await store.close()


async def test_concurrent_pings_share_one_round_trip(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = 0
    real = store._read

    async def counted(work):  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        return await real(work)

    monkeypatch.setattr(store, "_read", counted)
    await asyncio.gather(*(store.ping() for _ in range(20)))
    assert reads == 1
    await store.ping()  # a later ping asks again: nothing is cached
    assert reads == 2

    async def broken(work):  # type: ignore[no-untyped-def]
        raise ConnectionError("the database went away")

    monkeypatch.setattr(store, "_read", broken)
    results = await asyncio.gather(*(store.ping() for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)


async def test_a_job_status_is_read_alone(store: SQLStore) -> None:
    job, _ = await store.create_job(new_job(), created())
    assert await store.job_status(job.id) is JobStatus.PENDING
    await store.update_job(job.id, JobUpdate(status=JobStatus.CANCELLED))
    assert await store.job_status(job.id) is JobStatus.CANCELLED
    assert await store.job_status("job_missing") is None
