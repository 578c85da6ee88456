"""The SQL of sessions and their frames, in the style of `queries` (plain synchronous
functions of one `Connection`, each run by `SQLStore` as one transaction).

A session's `last_event_id` is the counter its frames are numbered by. Every write that
appends frames first moves the counter with ONE UPDATE ... RETURNING of the session row,
then inserts the frames under the ids it reserved. On PostgreSQL that UPDATE locks the row
until the commit, so racing writers take turns: ids never collide or skip, and they become
visible in order (a reader resuming from `lastEventId` cannot see frame 5 before frame 4).
`update_session` adds `version = :version` to the same UPDATE: PostgreSQL re-checks it on
the row a racing writer committed, so of writers holding the same version exactly one
wins. SQLite has one writer thread, which serialises all of this anyway.

Datetimes are bound as UTC: SQLite stores them as text without an offset (and compares
them as text), so a timestamp in another zone would be stored as the wrong instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from backend.domain import utcnow
from backend.sessions.model import Frame, NewFrame, Session
from backend.store import tables as t
from backend.store.queries import aware

FIELDS = tuple(f.name for f in fields(Session))
# Set by the store itself: a change to any of these would break identity, ownership,
# the compare-and-set or the frame numbering.
FIXED = frozenset({"id", "owner", "created_at", "version", "last_event_id"})
CHANGEABLE = frozenset(FIELDS) - FIXED
DATETIMES = frozenset({"created_at", "updated_at", "expires_at"})

_sessions = t.sessions.c
_frames = t.session_frames.c
_GET_SESSION = select(t.sessions).where(_sessions.id == bindparam("session_id"))
_INSERT_FRAMES = insert(t.session_frames)
_FRAMES_AFTER = (
    select(t.session_frames)
    .where(_frames.session_id == bindparam("session_id"), _frames.event_id > bindparam("after"))
    .order_by(_frames.event_id)
    .limit(bindparam("limit"))
)


def create_session(
    conn: Connection, session: Session, frames: Sequence[NewFrame]
) -> tuple[Session, list[Frame]]:
    values = _bound({name: getattr(session, name) for name in FIELDS})
    values["last_event_id"] = len(frames)
    query = insert(t.sessions).values(values).returning(*t.sessions.c)
    row = conn.execute(query).mappings().one()
    return to_session(row), _insert_frames(conn, session.id, 0, frames)


def get_session(conn: Connection, session_id: str) -> Session | None:
    row = conn.execute(_GET_SESSION, {"session_id": session_id}).mappings().first()
    return to_session(row) if row is not None else None


def list_sessions(
    conn: Connection, *, owner: str | None, limit: int, before: str | None
) -> list[Session]:
    """Newest first: ids sort by creation time (`backend.ids`)."""
    query = select(t.sessions).order_by(_sessions.id.desc()).limit(limit)
    if owner is not None:
        query = query.where(_sessions.owner == owner)
    if before is not None:
        query = query.where(_sessions.id < before)
    return [to_session(row) for row in conn.execute(query).mappings().all()]


def update_session(
    conn: Connection,
    session_id: str,
    version: int,
    changes: Mapping[str, Any],
    frames: Sequence[NewFrame],
) -> tuple[Session, list[Frame]] | None:
    """Compare-and-set on `version`: None, changing nothing, when the session is gone or
    another writer changed it since the caller read it."""
    check_changes(changes)
    values = _bound(dict(changes))
    values.setdefault("updated_at", utcnow())
    query = (
        update(t.sessions)
        .where(_sessions.id == session_id, _sessions.version == version)
        .values(
            {
                **values,
                "version": _sessions.version + 1,
                "last_event_id": _sessions.last_event_id + len(frames),
            }
        )
        .returning(*t.sessions.c)
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    stored = _insert_frames(conn, session_id, row["last_event_id"] - len(frames), frames)
    return to_session(row), stored


def append_frames(conn: Connection, session_id: str, frames: Sequence[NewFrame]) -> list[Frame]:
    """Frames that change no state (a suggestion, an error): the version stays, so a
    writer's compare-and-set is not disturbed by them. [] when the session is gone."""
    if not frames:
        return []
    query = (
        update(t.sessions)
        .where(_sessions.id == session_id)
        .values(last_event_id=_sessions.last_event_id + len(frames))
        .returning(_sessions.last_event_id)
    )
    last = conn.execute(query).scalar()
    if last is None:
        return []
    return _insert_frames(conn, session_id, last - len(frames), frames)


def frames_after(conn: Connection, session_id: str, after: int, limit: int) -> list[Frame]:
    params = {"session_id": session_id, "after": after, "limit": limit}
    return [
        Frame(
            session_id=row["session_id"],
            event_id=row["event_id"],
            type=row["type"],
            data=row["data"],
            ts=aware(row["ts"]),
        )
        for row in conn.execute(_FRAMES_AFTER, params).mappings().all()
    ]


def delete_session(conn: Connection, session_id: str) -> bool:
    """Its frames go with it (ON DELETE CASCADE; SQLite's foreign keys are on)."""
    return conn.execute(delete(t.sessions).where(_sessions.id == session_id)).rowcount > 0


def expired_sessions(conn: Connection, now: datetime, limit: int) -> list[str]:
    """Longest expired first, so a sweep in pages makes progress on the oldest."""
    query = (
        select(_sessions.id)
        .where(_sessions.expires_at < aware(now))
        .order_by(_sessions.expires_at, _sessions.id)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


# -- helpers ---------------------------------------------------------------------------


def check_changes(changes: Mapping[str, Any]) -> None:
    """A change the store would not apply is a programming error, not a 503."""
    wrong = sorted(set(changes) - CHANGEABLE)
    if wrong:
        raise ValueError(f"session fields that cannot be changed: {', '.join(wrong)}")


def _bound(values: dict[str, Any]) -> dict[str, Any]:
    """Datetimes in UTC (see the module docstring)."""
    for name in DATETIMES & values.keys():
        values[name] = aware(values[name])
    return values


def _insert_frames(
    conn: Connection, session_id: str, last_event_id: int, frames: Sequence[NewFrame]
) -> list[Frame]:
    """Insert `frames` as the ids after `last_event_id`, which the caller reserved."""
    stored = [
        Frame(session_id=session_id, event_id=event_id, type=f.type, data=f.data, ts=aware(f.ts))
        for event_id, f in enumerate(frames, start=last_event_id + 1)
    ]
    if stored:
        conn.execute(
            _INSERT_FRAMES,
            [
                {
                    "session_id": session_id,
                    "event_id": f.event_id,
                    "type": f.type,
                    "data": f.data,
                    "ts": f.ts,
                }
                for f in stored
            ],
        )
    return stored


def to_session(row: Any) -> Session:
    values = {name: row[name] for name in FIELDS}
    for name in DATETIMES:
        values[name] = aware(values[name])
    return Session(**values)
