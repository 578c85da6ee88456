"""`JobFollower`: one job's events in, one Slack message kept up to date out.

Two tasks per job. The reader follows the job's event stream (SSE, reconnecting) from
where the view stands, folds each event into the `MessageView`, and posts new artifacts in
the thread (and a review's reminder: bots/reminders.py). The writer edits the message
with the latest view at most once per `update_interval` (and within the shared rate
budget), so bursts of events coalesce into one edit and the final state is always sent.
Only the follower edits the message, so edits never race.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from backend.client import APIError
from bots.blocks import job_message
from bots.store import JobMessage
from bots.throttle import Edits
from bots.view import MessageView, Upload

if TYPE_CHECKING:
    from bots.bot import SlackBot

log = logging.getLogger("genflow.slack")
GONE = ("message_not_found", "channel_not_found", "cant_update_message", "is_archived")


class JobFollower:
    def __init__(self, bot: SlackBot, record: JobMessage, view: MessageView) -> None:
        self.bot, self.record, self.view = bot, record, view
        self._dirty = asyncio.Event()
        self._reading = True
        self._gone = False

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer(), name=f"slack-writer-{self.view.job_id}")
        try:
            await self._read()
        except BaseException:  # cancelled (the bot is stopping): no last edit
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            raise
        self._reading = False
        self._dirty.set()
        await writer  # the final state is on the message before the job counts as done
        if self.view.finished or self._gone:
            await self.bot.store.mark_done(self.view.job_id)

    # -- reading -------------------------------------------------------------------------

    async def _read(self) -> None:
        posted = await self.bot.store.posted(self.view.job_id)
        backoff = 1.0
        while not self.view.finished:
            try:
                events = self.bot.genflow.follow(self.view.job_id, after=self.view.last_seq)
                async with contextlib.aclosing(events) as stream:
                    async for event in stream:
                        await self._apply(event, posted)
                        backoff = 1.0
                return
            except APIError as exc:
                if exc.status == 404:  # deleted, or no longer visible to the bot's token
                    log.warning("stopped following %s: %s", self.view.job_id, exc)
                    self.view.gone = True
                    self._changed()
                    return
                log.warning("following %s failed: %s", self.view.job_id, exc)
            except Exception:  # a bug or a surprise from the wire: keep the job followed
                log.exception("following %s failed", self.view.job_id)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def _apply(self, event: dict[str, Any], posted: dict[str, Any]) -> None:
        self.view.apply(event)
        if event["type"] == "llm.delta":
            return  # model text is not shown in Slack; it would cost an edit per chunk
        if event["type"] == "artifact.created":
            artifact = self.view.artifact(event["data"].get("artifact_id"))
            if artifact is not None and artifact.id in posted:
                done = posted[artifact.id]
                self.view.uploads[artifact.id] = Upload(done.file_id, done.permalink, posted=True)
            elif artifact is not None and self.record.ts is not None:
                await self.bot.poster.post(self.view, artifact, self.record.channel, self.record.ts)
        elif event["type"] == "review.reminder":
            await self.bot.reminders.post(self.record, event.get("data") or {})
        self._changed()

    def _changed(self) -> None:
        self._dirty.set()

    # -- writing -------------------------------------------------------------------------

    async def _writer(self) -> None:
        edits = Edits(self.bot.limiter, self.bot.config.update_interval)
        while True:
            await self._dirty.wait()
            await edits.pace()
            self._dirty.clear()
            message = job_message(self.view, self.bot.config.job_url(self.view.job_id))
            if not self._gone and self.record.ts is not None:
                if await edits.push(message, self._send):
                    self._dirty.set()  # try this state again after the interval
            if not self._reading and not self._dirty.is_set():
                return

    async def _send(self, text: str, blocks: list[dict[str, Any]]) -> bool:
        channel, ts = self.record.channel, self.record.ts
        try:
            await self.bot.slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            return True
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "invalid_blocks":  # e.g. an uploaded image Slack has not processed yet
                _, without = job_message(
                    self.view, self.bot.config.job_url(self.view.job_id), images=False
                )
                with contextlib.suppress(SlackApiError):
                    await self.bot.slack.chat_update(
                        channel=channel, ts=ts, text=text, blocks=without
                    )
                    return True
            if error in GONE:
                log.warning(
                    "the message of %s is gone (%s); not updating it", self.view.job_id, error
                )
                self._gone = True
                return True
            log.warning("chat.update for %s failed: %s", self.view.job_id, error)
        except Exception as exc:  # network trouble: the writer tries again later
            log.warning("chat.update for %s failed: %r", self.view.job_id, exc)
        return False
