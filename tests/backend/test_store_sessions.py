"""The Store contract for sessions: records, compare-and-set on `version`, frame numbering.

Runs on SQLite and PostgreSQL (the `store` fixture of test_store.py); the cases at the end
need PostgreSQL and give each writer a store (an engine and pool) of its own, as two
replicas or a replica and a worker would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, func, inspect, select

from backend.domain import utcnow
from backend.ids import new_id
from backend.sessions.model import Frame, NewFrame, Session
from backend.store.migrate import alembic_config, sync_url, upgrade
from backend.store.sqlalchemy import SQLStore
from backend.store.tables import session_frames
from tests.backend.test_store import store

__all__ = ["store"]

CEST = timezone(timedelta(hours=2))
DOCUMENT: dict[str, Any] = {
    "title": "Über Katzen — a draft",
    "sections": [{"heading": "One", "body": "text", "words": 2}, {"heading": "Two"}],
    "score": 0.75,
    "approved": False,
    "notes": None,
    "nested": {"a": {"b": [1, [2, 3], {"c": "d"}]}},
}


def new_session(owner: str = "alice", **overrides: Any) -> Session:
    now = utcnow()
    session = Session(
        id=new_id("ses"),
        owner=owner,
        article_id=new_id("art"),
        stage="topic",
        status="idle",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=1),
    )
    return replace(session, **overrides)


def frame(type_: str = "suggestion", **data: Any) -> NewFrame:
    return NewFrame(type_, data)


def frame_rows(store: SQLStore, session_id: str) -> int:
    """Frames as stored, whether or not a store method would still return them."""
    engine = create_engine(sync_url(store.url))
    try:
        with engine.connect() as conn:
            query = select(func.count()).where(session_frames.c.session_id == session_id)
            return conn.execute(query).scalar_one()
    finally:
        engine.dispose()


async def event_ids(store: SQLStore, session_id: str) -> list[int | None]:
    return [f.event_id for f in await store.frames_after(session_id)]


# -- records ---------------------------------------------------------------------------


async def test_a_session_round_trips_every_field(store: SQLStore) -> None:
    session = new_session(
        stage="writing",
        status="processing",
        created_at=datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=CEST),  # not UTC
        updated_at=datetime(2026, 12, 6, 11, 0, 1, 654321, tzinfo=UTC),
        expires_at=datetime(2026, 12, 7, 12, 0, tzinfo=CEST),
        progress=42,
        current_step="Outline",
        context={"topic": "cats", "audience": ["owners", "vets"], "depth": 3},
        document=DOCUMENT,
        last_message="writing the outline",
        active_job_id=new_id("job"),
        active_action="write",
        last_event_id=99,  # the store numbers the frames: ignored
    )
    first = [frame("session.created", stage="writing"), frame("status", status="processing")]
    created, frames = await store.create_session(session, first)
    read = await store.get_session(session.id)
    assert read == created
    assert read == replace(session, last_event_id=2)  # datetimes compare as instants
    for name in ("created_at", "updated_at", "expires_at"):
        assert getattr(read, name).utcoffset() == timedelta(0), name
    assert [f.event_id for f in frames] == [1, 2]
    assert await store.frames_after(session.id) == frames
    assert frames[0] == Frame(session.id, 1, "session.created", {"stage": "writing"}, first[0].ts)
    assert frames[0].ts.tzinfo is not None
    assert await store.get_session("ses_nope") is None


async def test_a_session_starts_with_the_model_defaults(store: SQLStore) -> None:
    created, frames = await store.create_session(new_session())
    assert frames == [] and created.last_event_id == 0 and created.version == 1
    assert (created.context, created.document, created.progress) == ({}, {}, 0)
    assert (created.current_step, created.last_message, created.active_job_id) == (None,) * 3
    assert await store.get_session(created.id) == created


async def test_an_update_applies_every_changeable_field_and_bumps_the_version(
    store: SQLStore,
) -> None:
    created, _ = await store.create_session(new_session(), [frame("session.created")])
    expires = datetime(2027, 1, 1, 9, 30, tzinfo=CEST)
    changes: dict[str, Any] = {
        "article_id": "art_other",
        "stage": "review",
        "status": "completed",
        "expires_at": expires,
        "progress": 100,
        "current_step": "Proofread",
        "context": {"k": [1, 2]},
        "document": DOCUMENT,
        "last_message": "done",
        "active_job_id": None,
        "active_action": None,
    }
    before = utcnow()
    saved = await store.update_session(
        created.id, version=1, changes=changes, frames=[frame("status", status="completed")]
    )
    assert saved is not None
    updated, frames = saved
    assert await store.get_session(created.id) == updated
    assert {name: getattr(updated, name) for name in changes} == changes
    assert updated.version == 2 and updated.last_event_id == 2
    assert updated.updated_at >= before and updated.updated_at.tzinfo is not None
    assert (updated.id, updated.owner, updated.created_at) == (
        created.id,
        created.owner,
        created.created_at,
    )
    assert [f.event_id for f in frames] == [2]
    untouched = set(f.name for f in fields(Session)) - set(changes)
    assert untouched == {"id", "owner", "created_at", "updated_at", "last_event_id", "version"}


async def test_an_update_may_set_updated_at_itself(store: SQLStore) -> None:
    created, _ = await store.create_session(new_session())
    moment = datetime(2026, 12, 24, 18, 0, tzinfo=CEST)
    saved = await store.update_session(created.id, version=1, changes={"updated_at": moment})
    assert saved is not None and saved[0].updated_at == moment
    assert saved[0].updated_at.tzinfo == UTC


@pytest.mark.parametrize("name", ["id", "owner", "created_at", "version", "last_event_id", "x"])
async def test_fixed_and_unknown_fields_are_refused(store: SQLStore, name: str) -> None:
    created, _ = await store.create_session(new_session())
    with pytest.raises(ValueError, match=name):
        await store.update_session(created.id, version=1, changes={name: 1})
    assert await store.get_session(created.id) == created
    assert store.failing is False


async def test_a_stale_version_changes_nothing(store: SQLStore) -> None:
    created, _ = await store.create_session(new_session(), [frame("session.created")])
    first = await store.update_session(
        created.id, version=1, changes={"stage": "research"}, frames=[frame("stage")]
    )
    assert first is not None and first[0].version == 2
    stale = await store.update_session(
        created.id, version=1, changes={"stage": "writing", "progress": 9}, frames=[frame("x")]
    )
    assert stale is None
    assert await store.get_session(created.id) == first[0]
    assert await event_ids(store, created.id) == [1, 2]
    ahead = await store.update_session(created.id, version=3, changes={"progress": 9})
    assert ahead is None and await store.get_session(created.id) == first[0]
    gone = await store.update_session("ses_nope", version=1, changes={}, frames=[frame()])
    assert gone is None


async def test_frames_are_numbered_without_gaps_across_create_update_and_append(
    store: SQLStore,
) -> None:
    created, frames = await store.create_session(new_session(), [frame(i=1), frame(i=2)])
    numbered = [f.event_id for f in frames]
    saved = await store.update_session(
        created.id, version=1, changes={}, frames=[frame(i=3), frame(i=4), frame(i=5)]
    )
    assert saved is not None
    numbered += [f.event_id for f in saved[1]]
    appended = await store.append_frames(created.id, [frame("error", i=6)])
    numbered += [f.event_id for f in appended]
    empty = await store.update_session(created.id, version=2, changes={"progress": 5})
    assert empty is not None and empty[1] == [] and empty[0].version == 3
    numbered += [f.event_id for f in await store.append_frames(created.id, [frame(i=7)] * 2)]
    assert numbered == list(range(1, 9))
    stored = await store.frames_after(created.id)
    assert [f.event_id for f in stored] == numbered
    assert [f.data["i"] for f in stored] == [1, 2, 3, 4, 5, 6, 7, 7]
    read = await store.get_session(created.id)
    assert read is not None and read.last_event_id == 8 and read.version == 3


async def test_appending_frames_keeps_the_version_and_updated_at(store: SQLStore) -> None:
    created, _ = await store.create_session(new_session())
    appended = await store.append_frames(created.id, [frame("suggestion", text="try this")])
    assert [(f.event_id, f.type, f.data) for f in appended] == [
        (1, "suggestion", {"text": "try this"})
    ]
    read = await store.get_session(created.id)
    assert read == replace(created, last_event_id=1)
    assert await store.update_session(created.id, version=1, changes={}) is not None


async def test_appending_to_a_missing_session_or_nothing_stores_nothing(store: SQLStore) -> None:
    assert await store.append_frames("ses_nope", [frame()]) == []
    created, _ = await store.create_session(new_session())
    assert await store.append_frames(created.id, []) == []
    assert await store.get_session(created.id) == created


async def test_frames_after_pages_by_event_id(store: SQLStore) -> None:
    created, _ = await store.create_session(new_session(), [frame(i=i) for i in range(1, 8)])
    assert [f.event_id for f in await store.frames_after(created.id, after=3, limit=2)] == [4, 5]
    assert [f.event_id for f in await store.frames_after(created.id, after=5)] == [6, 7]
    assert await store.frames_after(created.id, after=7) == []
    assert await store.frames_after("ses_nope") == []


# -- concurrency (both databases: one store, many tasks) -----------------------------------


async def test_of_concurrent_updates_on_one_version_exactly_one_wins(store: SQLStore) -> None:
    created, _ = await store.create_session(new_session(), [frame("session.created")])

    async def update(i: int) -> tuple[Session, list[Frame]] | None:
        return await store.update_session(
            created.id, version=1, changes={"progress": i}, frames=[frame(i=i), frame(i=i)]
        )

    outcomes = await asyncio.gather(*(update(i) for i in range(10)))
    won = [o for o in outcomes if o is not None]
    assert len(won) == 1
    winner, frames = won[0]
    assert [f.event_id for f in frames] == [2, 3]
    assert await store.get_session(created.id) == winner
    assert winner.version == 2 and winner.last_event_id == 3
    assert await event_ids(store, created.id) == [1, 2, 3]


async def test_concurrent_appends_and_updates_number_frames_contiguously(store: SQLStore) -> None:
    created, _ = await store.create_session(new_session(), [frame("session.created")])

    async def append(i: int) -> list[Frame]:
        return await store.append_frames(created.id, [frame(i=i)] * (1 + i % 3))

    async def bump() -> None:
        """Read, change, compare-and-set; again on a conflict (what a service does)."""
        while True:
            read = await store.get_session(created.id)
            assert read is not None
            saved = await store.update_session(
                created.id,
                version=read.version,
                changes={"progress": read.progress + 1},
                frames=[frame("progress")],
            )
            if saved is not None:
                return

    results = await asyncio.gather(*(append(i) for i in range(20)), *(bump() for _ in range(5)))
    appended = [f.event_id for batch in results if batch for f in batch]
    assert len(appended) == len(set(appended)) == sum(1 + i % 3 for i in range(20))
    total = 1 + len(appended) + 5
    assert await event_ids(store, created.id) == list(range(1, total + 1))
    read = await store.get_session(created.id)
    assert read is not None
    assert (read.last_event_id, read.version, read.progress) == (total, 6, 5)


# -- listing, deleting, expiry -------------------------------------------------------------


async def test_list_is_newest_first_and_pages_by_cursor(store: SQLStore) -> None:
    ids = [(await store.create_session(new_session()))[0].id for _ in range(5)]
    bobs = (await store.create_session(new_session(owner="bob")))[0].id
    first = await store.list_sessions(owner="alice", limit=3)
    rest = await store.list_sessions(owner="alice", limit=3, before=first[-1].id)
    assert [s.id for s in first + rest] == ids[::-1]
    assert await store.list_sessions(owner="alice", limit=3, before=ids[0]) == []
    assert [s.id for s in await store.list_sessions(owner="bob", limit=10)] == [bobs]
    everyone = await store.list_sessions(owner=None, limit=10)
    assert [s.id for s in everyone] == [bobs, *ids[::-1]]
    assert everyone[1] == await store.get_session(ids[-1])


async def test_deleting_a_session_deletes_its_frames(store: SQLStore) -> None:
    created, _ = await store.create_session(new_session(), [frame(), frame()])
    await store.append_frames(created.id, [frame("error")])
    kept, _ = await store.create_session(new_session(), [frame()])
    assert frame_rows(store, created.id) == 3
    assert await store.delete_session(created.id) is True
    assert await store.get_session(created.id) is None
    assert await store.frames_after(created.id) == []
    assert frame_rows(store, created.id) == 0
    assert await store.delete_session(created.id) is False
    assert await store.update_session(created.id, version=1, changes={}) is None
    assert await event_ids(store, kept.id) == [1]


async def test_expired_sessions_are_those_past_expires_at(store: SQLStore) -> None:
    now = utcnow()
    ages = {"old": -3600, "older": -7200, "just": -1, "live": 3600}
    made = {
        name: (await store.create_session(new_session(expires_at=now + timedelta(seconds=s))))[0]
        for name, s in ages.items()
    }
    expired = await store.expired_sessions(now)
    assert expired == [made["older"].id, made["old"].id, made["just"].id]
    assert await store.expired_sessions(now, limit=1) == [made["older"].id]
    assert await store.expired_sessions(now.astimezone(CEST)) == expired  # same instant
    assert await store.expired_sessions(now - timedelta(days=1)) == []
    saved = await store.update_session(
        made["live"].id, version=1, changes={"expires_at": now - timedelta(hours=3)}
    )
    assert saved is not None
    assert (await store.expired_sessions(now))[0] == made["live"].id


async def test_the_sessions_migration_goes_down_and_up_again(store: SQLStore) -> None:
    config = alembic_config(store.url)
    await asyncio.to_thread(command.downgrade, config, "0002")
    engine = create_engine(sync_url(store.url))
    try:
        with engine.connect() as conn:
            assert not {"sessions", "session_frames"} & set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    await asyncio.to_thread(upgrade, store.url)
    created, frames = await store.create_session(new_session(), [frame()])
    assert await store.frames_after(created.id) == frames


# -- PostgreSQL: writers with stores of their own ------------------------------------------


@pytest.fixture
async def pg_stores(postgres_url: str) -> AsyncIterator[list[SQLStore]]:
    """Three stores on one database: three processes, as far as PostgreSQL can tell."""
    stores = [SQLStore(postgres_url) for _ in range(3)]
    await stores[0].initialize()
    yield stores
    for each in stores:
        await each.close()


async def test_of_writers_in_separate_stores_one_wins_each_version(
    pg_stores: list[SQLStore],
) -> None:
    created, _ = await pg_stores[0].create_session(new_session(), [frame("session.created")])
    for version in (1, 2, 3):
        outcomes = await asyncio.gather(
            *(
                writer.update_session(
                    created.id, version=version, changes={"progress": i}, frames=[frame(i=i)]
                )
                for i, writer in enumerate(pg_stores * 4)
            )
        )
        won = [o for o in outcomes if o is not None]
        assert len(won) == 1, version
        assert won[0][0].version == version + 1
        assert [f.event_id for f in won[0][1]] == [version + 1]
    assert await event_ids(pg_stores[1], created.id) == [1, 2, 3, 4]


async def test_writers_in_separate_stores_lose_no_update_and_no_frame(
    pg_stores: list[SQLStore],
) -> None:
    created, _ = await pg_stores[0].create_session(new_session(), [frame("session.created")])

    async def increment(writer: SQLStore, who: int) -> int:
        """A read-modify-write of the document; returns the conflicts it retried."""
        conflicts = 0
        while True:
            read = await writer.get_session(created.id)
            assert read is not None
            document = {**read.document, "count": read.document.get("count", 0) + 1}
            changes = {"document": document}
            if await writer.update_session(
                created.id, version=read.version, changes=changes, frames=[frame(who=who)]
            ):
                return conflicts
            conflicts += 1

    async def append(writer: SQLStore, who: int) -> list[Frame]:
        return await writer.append_frames(created.id, [frame("suggestion", who=who)] * 2)

    writers = [increment(writer, i) for i, writer in enumerate(pg_stores * 4)]
    appenders = [append(writer, i) for i, writer in enumerate(pg_stores * 10)]
    _, batches = await asyncio.gather(asyncio.gather(*writers), asyncio.gather(*appenders))
    read = await pg_stores[2].get_session(created.id)
    assert read is not None
    assert read.document == {"count": 12} and read.version == 13
    total = 1 + 12 + 30 * 2
    assert read.last_event_id == total
    assert await event_ids(pg_stores[1], created.id) == list(range(1, total + 1))
    appended = [f.event_id for batch in batches for f in batch]
    assert len(set(appended)) == 60
