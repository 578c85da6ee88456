"""The bot's own durable memory: which Slack message shows which job (or GenFlow session,
or `/workflow` draft), and what it did.

A small SQLite file (`$GENFLOW_DATA_DIR/slack.db`), so a restarted bot knows every job it
posted, resumes following the unfinished ones, never re-uploads an artifact, never posts
a review's reminder twice, and never starts a job twice for one slash command (Slack
retries carry the same trigger_id).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from bots.session_store import SESSION_SCHEMA, SessionStore
from bots.workflow_store import WORKFLOW_SCHEMA, WorkflowStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    job_id TEXT PRIMARY KEY,
    flow TEXT NOT NULL,
    title TEXT NOT NULL,
    channel TEXT NOT NULL,
    ts TEXT,
    user_id TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS posted (
    artifact_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    file_id TEXT,
    permalink TEXT
);
CREATE TABLE IF NOT EXISTS reminders (
    review_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    at REAL NOT NULL
);
"""

REQUEST_TTL = 24 * 3600.0  # Slack retries within minutes; a day is plenty


@dataclass(frozen=True)
class JobMessage:
    job_id: str
    flow: str
    title: str
    channel: str
    ts: str | None
    user_id: str  # who started the job
    done: bool


@dataclass(frozen=True)
class Posted:
    artifact_id: str
    file_id: str | None
    permalink: str | None


class BotStore:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self.sessions = SessionStore(db)  # the GenFlow sessions' messages (session_store.py)
        self.workflows = WorkflowStore(db)  # the `/workflow` drafts (workflow_store.py)

    @classmethod
    async def open(cls, path: Path) -> BotStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.executescript(SCHEMA + SESSION_SCHEMA + WORKFLOW_SCHEMA)
        await db.commit()
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    # -- slash-command retries -------------------------------------------------------

    async def claim(self, key: str) -> bool:
        """True the first time `key` is seen; False for a retry of the same request."""
        now = time.time()
        await self._db.execute("DELETE FROM requests WHERE seen_at < ?", (now - REQUEST_TTL,))
        cursor = await self._db.execute(
            "INSERT OR IGNORE INTO requests (key, seen_at) VALUES (?, ?)", (key, now)
        )
        await self._db.commit()
        return cursor.rowcount == 1

    # -- job messages ----------------------------------------------------------------

    async def add_job(self, job_id: str, flow: str, title: str, channel: str, user: str) -> None:
        await self._db.execute(
            "INSERT OR IGNORE INTO messages (job_id, flow, title, channel, user_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, flow, title, channel, user, time.time()),
        )
        await self._db.commit()

    async def set_message(self, job_id: str, channel: str, ts: str) -> None:
        await self._db.execute(
            "UPDATE messages SET channel = ?, ts = ? WHERE job_id = ?", (channel, ts, job_id)
        )
        await self._db.commit()

    async def mark_done(self, job_id: str) -> None:
        await self._db.execute("UPDATE messages SET done = 1 WHERE job_id = ?", (job_id,))
        await self._db.commit()

    async def job(self, job_id: str) -> JobMessage | None:
        rows = await self._select("WHERE job_id = ?", (job_id,))
        return rows[0] if rows else None

    async def unfinished(self) -> list[JobMessage]:
        return await self._select("WHERE done = 0 ORDER BY created_at", ())

    async def _select(self, where: str, args: tuple[object, ...]) -> list[JobMessage]:
        cursor = await self._db.execute(
            f"SELECT job_id, flow, title, channel, ts, user_id, done FROM messages {where}", args
        )
        return [
            JobMessage(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]))
            for r in await cursor.fetchall()
        ]

    # -- artifacts shown in Slack ----------------------------------------------------

    async def posted(self, job_id: str) -> dict[str, Posted]:
        cursor = await self._db.execute(
            "SELECT artifact_id, file_id, permalink FROM posted WHERE job_id = ?", (job_id,)
        )
        return {r[0]: Posted(r[0], r[1], r[2]) for r in await cursor.fetchall()}

    async def add_posted(
        self, job_id: str, artifact_id: str, file_id: str | None, permalink: str | None
    ) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO posted (artifact_id, job_id, file_id, permalink)"
            " VALUES (?, ?, ?, ?)",
            (artifact_id, job_id, file_id, permalink),
        )
        await self._db.commit()

    # -- review reminders posted -----------------------------------------------------

    async def claim_reminder(self, job_id: str, review_id: str) -> bool:
        """True the first time the review's reminder is to be posted; False ever after
        (a replay of the job's events after a restart), unless released."""
        cursor = await self._db.execute(
            "INSERT OR IGNORE INTO reminders (review_id, job_id, at) VALUES (?, ?, ?)",
            (review_id, job_id, time.time()),
        )
        await self._db.commit()
        return cursor.rowcount == 1

    async def release_reminder(self, review_id: str) -> None:
        """The reminder could not be posted: a later replay may try again."""
        await self._db.execute("DELETE FROM reminders WHERE review_id = ?", (review_id,))
        await self._db.commit()
