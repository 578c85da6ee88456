"""The bot's memory of the GenFlow sessions it shows: which message, how far it has read,
and who in Slack did what.

Kept in the same `slack.db` as the job messages (`BotStore` creates the tables), so a
restarted bot resumes every unfinished session's message from its last event id. The
API does not know Slack users, so "Topic chosen by @ana" lives here, as clicks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

SESSION_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    channel TEXT NOT NULL,
    ts TEXT,
    user_id TEXT NOT NULL,
    last_event_id INTEGER NOT NULL DEFAULT 0,
    draft_version INTEGER NOT NULL DEFAULT 0,
    reviewed_version INTEGER,
    done INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS session_clicks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT NOT NULL,
    detail TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS session_clicks_by_session ON session_clicks (session_id, id);
"""


@dataclass(frozen=True)
class SessionMessage:
    session_id: str
    subject: str  # what the person typed after /session
    channel: str
    ts: str | None
    user_id: str  # who started the session
    last_event_id: int  # the last stored frame the bot folded
    draft_version: int  # the latest draft version those frames announced
    reviewed_version: int | None  # the draft version the latest review read
    done: bool


@dataclass(frozen=True)
class Click:
    """One action a Slack user sent (kept only when GenFlow accepted it)."""

    id: int
    action: str
    user_id: str
    detail: str | None  # the chosen topic, the requested changes…
    at: float


class SessionStore:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def add(self, session_id: str, subject: str, channel: str, user: str) -> None:
        await self._db.execute(
            "INSERT OR IGNORE INTO sessions (session_id, subject, channel, user_id, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (session_id, subject, channel, user, time.time()),
        )
        await self._db.commit()

    async def set_message(self, session_id: str, channel: str, ts: str) -> None:
        await self._write(
            "UPDATE sessions SET channel = ?, ts = ? WHERE session_id = ?", channel, ts, session_id
        )

    async def set_read(
        self, session_id: str, event_id: int, draft_version: int, reviewed_version: int | None
    ) -> None:
        """How far the bot has read the session's frames, and what it learned from them."""
        await self._write(
            "UPDATE sessions SET last_event_id = ?, draft_version = ?, reviewed_version = ?"
            " WHERE session_id = ? AND last_event_id <= ?",
            event_id,
            draft_version,
            reviewed_version,
            session_id,
            event_id,
        )

    async def mark_done(self, session_id: str) -> None:
        await self._write("UPDATE sessions SET done = 1 WHERE session_id = ?", session_id)

    async def get(self, session_id: str) -> SessionMessage | None:
        rows = await self._select("WHERE session_id = ?", (session_id,))
        return rows[0] if rows else None

    async def unfinished(self) -> list[SessionMessage]:
        return await self._select("WHERE done = 0 ORDER BY created_at", ())

    async def add_click(self, session_id: str, action: str, user: str, detail: str | None) -> int:
        cursor = await self._db.execute(
            "INSERT INTO session_clicks (session_id, action, user_id, detail, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (session_id, action, user, detail, time.time()),
        )
        await self._db.commit()
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def drop_click(self, click_id: int) -> None:
        """Forget a click GenFlow refused (409, 422…): nobody did that."""
        await self._write("DELETE FROM session_clicks WHERE id = ?", click_id)

    async def clicks(self, session_id: str) -> list[Click]:
        cursor = await self._db.execute(
            "SELECT id, action, user_id, detail, at FROM session_clicks"
            " WHERE session_id = ? ORDER BY id",
            (session_id,),
        )
        return [Click(r[0], r[1], r[2], r[3], r[4]) for r in await cursor.fetchall()]

    async def _write(self, sql: str, *args: object) -> None:
        await self._db.execute(sql, args)
        await self._db.commit()

    async def _select(self, where: str, args: tuple[object, ...]) -> list[SessionMessage]:
        cursor = await self._db.execute(
            "SELECT session_id, subject, channel, ts, user_id, last_event_id, draft_version,"
            f" reviewed_version, done FROM sessions {where}",
            args,
        )
        return [
            SessionMessage(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]))
            for r in await cursor.fetchall()
        ]
