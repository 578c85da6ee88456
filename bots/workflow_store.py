"""The bot's memory of the `/workflow` drafts it announced: which message waits for which
request, and how it ended.

Kept in the same `slack.db` as the job messages (`BotStore` creates the table). A draft
is one long API call; if the bot stops during it the answer is lost, so a restarted bot
finds the drafts still marked `drafting` and tells their messages so, instead of leaving
"Drafting…" up for ever. Runs need no memory here: they are ordinary job messages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

WORKFLOW_SCHEMA = """
CREATE TABLE IF NOT EXISTS workflow_drafts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt TEXT NOT NULL,
    channel TEXT NOT NULL,
    ts TEXT,
    user_id TEXT NOT NULL,
    workflow_id TEXT,
    state TEXT NOT NULL DEFAULT 'drafting',
    created_at REAL NOT NULL
);
"""
DRAFTING, READY, FAILED = "drafting", "ready", "failed"


@dataclass(frozen=True)
class WorkflowDraft:
    id: int
    prompt: str  # what the person typed after /workflow
    channel: str
    ts: str | None  # the message that shows the draft (None until posted)
    user_id: str  # who asked for it
    workflow_id: str | None  # once drafted
    state: str  # drafting, ready, failed


class WorkflowStore:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def add(self, prompt: str, channel: str, user: str) -> int:
        cursor = await self._db.execute(
            "INSERT INTO workflow_drafts (prompt, channel, user_id, created_at)"
            " VALUES (?, ?, ?, ?)",
            (prompt, channel, user, time.time()),
        )
        await self._db.commit()
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def set_message(self, draft_id: int, channel: str, ts: str) -> None:
        await self._write(
            "UPDATE workflow_drafts SET channel = ?, ts = ? WHERE id = ?", channel, ts, draft_id
        )

    async def finish(self, draft_id: int, state: str, workflow_id: str | None = None) -> None:
        await self._write(
            "UPDATE workflow_drafts SET state = ?, workflow_id = ? WHERE id = ?",
            state,
            workflow_id,
            draft_id,
        )

    async def get(self, draft_id: int) -> WorkflowDraft | None:
        rows = await self._select("WHERE id = ?", (draft_id,))
        return rows[0] if rows else None

    async def drafting(self) -> list[WorkflowDraft]:
        return await self._select("WHERE state = ? ORDER BY id", (DRAFTING,))

    async def _select(self, where: str, args: tuple[object, ...]) -> list[WorkflowDraft]:
        cursor = await self._db.execute(
            "SELECT id, prompt, channel, ts, user_id, workflow_id, state"
            f" FROM workflow_drafts {where}",
            args,
        )
        return [WorkflowDraft(*row) for row in await cursor.fetchall()]

    async def _write(self, sql: str, *args: object) -> None:
        await self._db.execute(sql, args)
        await self._db.commit()
