"""`SessionFollower`: one GenFlow session's realtime frames in, one Slack message kept up
to date out.

The reader follows the session's WebSocket (`GenFlowClient.session_frames`, which
reconnects from the last eventId by itself) and folds each frame into the `SessionView`.
The writer edits the message with the latest view at most once per `update_interval` and
within the bot's shared rate budget: before an edit it re-reads the session when stored
frames arrived since the last read, so a burst of frames costs one read and one edit.
After each edit the last eventId folded is saved (with what the view learned from the
frames), so a restarted bot resumes from there. The
follower ends once the session is approved (the article posted in the thread) or gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from backend.client import APIError
from bots.session_article import post_final_article
from bots.session_blocks import session_message
from bots.session_store import SessionMessage
from bots.session_view import SessionView
from bots.throttle import Edits

if TYPE_CHECKING:
    from bots.bot import SlackBot

log = logging.getLogger("genflow.slack")
GONE = ("message_not_found", "channel_not_found", "cant_update_message", "is_archived")
ENDED = {404: "gone", 410: "expired"}


class SessionFollower:
    def __init__(self, bot: SlackBot, record: SessionMessage, view: SessionView) -> None:
        self.bot, self.record, self.view = bot, record, view
        self._dirty = asyncio.Event()
        self._message_gone = False
        self._saved_event_id = record.last_event_id
        view.frames_event_id = record.last_event_id
        view.draft_seen, view.reviewed = record.draft_version, record.reviewed_version

    def changed(self) -> None:
        """Something the message shows changed outside the frames (a Slack click)."""
        self._dirty.set()

    async def run(self) -> None:
        self._dirty.set()  # the first edit shows who did what, even before any frame
        reader = asyncio.create_task(self._read(), name=f"slack-session-read-{self.sid}")
        writer = asyncio.create_task(self._writer(), name=f"slack-session-write-{self.sid}")
        try:
            await writer
        finally:
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)
        if self.view.finished or self._message_gone:
            await self.bot.store.sessions.mark_done(self.sid)

    @property
    def sid(self) -> str:
        return self.view.session_id

    # -- reading -------------------------------------------------------------------------

    async def _read(self) -> None:
        backoff = 1.0
        while True:
            try:
                frames = self.bot.genflow.session_frames(self.sid, self.view.frames_event_id)
                async with contextlib.aclosing(frames) as stream:
                    async for frame in stream:
                        self.view.apply(frame)
                        backoff = 1.0
                        if frame.get("type") != "llm.delta":  # not an edit per chunk
                            self._dirty.set()
            except APIError as exc:
                if exc.status in ENDED:
                    log.warning("stopped following session %s: %s", self.sid, exc)
                    self.view.ended = ENDED[exc.status]
                    self._dirty.set()
                    return
                log.warning("following session %s failed: %s", self.sid, exc)
            except Exception:  # a surprise from the wire: keep the session followed
                log.exception("following session %s failed", self.sid)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def _refresh(self) -> bool:
        """Re-read the session; False when GenFlow could not answer (try again later)."""
        try:
            self.view.refreshed(await self.bot.genflow.session(self.sid))
        except APIError as exc:
            if exc.status in ENDED:
                self.view.ended = ENDED[exc.status]
                return True
            log.warning("reading session %s failed: %s", self.sid, exc)
            return False
        except Exception:  # a surprise from the wire: keep the message, try again later
            log.exception("reading session %s failed", self.sid)
            return False
        return True

    # -- writing -------------------------------------------------------------------------

    async def _writer(self) -> None:
        interval = self.bot.config.update_interval
        edits = Edits(self.bot.limiter, interval)
        backoff = interval  # between two reads of a session GenFlow could not answer
        while True:
            await self._dirty.wait()
            await edits.pace()
            self._dirty.clear()
            if self.view.stale and self.view.ended is None:
                if await self._refresh():
                    backoff = interval
                else:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                    self._dirty.set()
            if self.view.state is None and self.view.ended is None:
                continue  # nothing to show yet
            await self.bot.sessions.clicks_settled(self.sid)  # a refused click never shows
            self.view.clicks = await self.bot.store.sessions.clicks(self.sid)
            await self._post_article()
            message = session_message(self.view)
            if not self._message_gone and self.record.ts is not None:
                if await edits.push(message, self._send):
                    self._dirty.set()  # try this state again after the interval
            await self._save_event_id()
            if (self.view.finished or self._message_gone) and not self._dirty.is_set():
                return

    async def _post_article(self) -> None:
        final = self.view.document.get("final") or {}
        if self.view.status == "completed" and final.get("markdown") and self.record.ts:
            await post_final_article(
                self.bot.slack,
                self.bot.store,
                self.sid,
                final["markdown"],
                self.record.channel,
                self.record.ts,
            )

    async def _save_event_id(self) -> None:
        view = self.view
        if view.frames_event_id > self._saved_event_id:
            self._saved_event_id = view.frames_event_id
            await self.bot.store.sessions.set_read(
                self.sid, view.frames_event_id, view.draft_seen, view.reviewed
            )

    async def _send(self, text: str, blocks: list[dict[str, Any]]) -> bool:
        channel, ts = self.record.channel, self.record.ts
        try:
            await self.bot.slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            return True
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in GONE:
                log.warning("the message of session %s is gone (%s)", self.sid, error)
                self._message_gone = True
                return True
            log.warning("chat.update for session %s failed: %s", self.sid, error)
        except Exception as exc:  # network trouble: the writer tries again later
            log.warning("chat.update for session %s failed: %r", self.sid, exc)
        return False
