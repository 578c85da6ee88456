"""`SessionBot`: the Slack bot's GenFlow sessions — start one for `/session`, post its one
message, follow it, and send the actions people click.

`commands.py` and `session_actions.py` only translate Slack requests into these calls.
A session is created, and every action sent, acting for the Slack user (a session is its
starter's: GenFlow refuses anyone else, and the bot says so). A click is recorded (who,
what) before it is sent, so the edit that shows its result can say who did it (an
approval ends the session, and its follower, at once); GenFlow refusing it forgets it
again. While a click is being sent its session's message is not edited (`clicks_settled`):
a render meanwhile showed "Research requested by @bob" for Bob's refused click. The
message follows the session with the bot's own token.
`resume()` picks up every unfinished session after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from backend.client import APIError
from bots import texts
from bots.people import SlackUser
from bots.posting import post_where_seen
from bots.session_blocks import clicked, session_message
from bots.session_follower import SessionFollower
from bots.session_store import SessionMessage
from bots.session_view import SessionView

if TYPE_CHECKING:
    from bots.bot import SlackBot

log = logging.getLogger("genflow.slack")


class SessionBot:
    def __init__(self, bot: SlackBot) -> None:
        self.bot = bot
        self.followers: dict[str, SessionFollower] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sending: Counter[str] = Counter()  # clicks being sent, by session
        self._sent = asyncio.Condition()  # notified when a click has been sent

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- starting and following ----------------------------------------------------------

    async def start(
        self, subject: str, channel: str, user: SlackUser
    ) -> tuple[SessionMessage, str | None]:
        """Create the session as `user`'s, post its message, follow it. Returns the record
        and a note for the user when the message had to go somewhere else than `channel`."""
        made = await self.bot.person(user).create_session(
            f"slack-{channel}-{int(time.time() * 1000)}", context={"category": subject}
        )
        session_id = made["sessionId"]
        await self.bot.store.sessions.add(session_id, subject, channel, user.user)
        record = await self.bot.store.sessions.get(session_id)
        assert record is not None
        record, note = await self._post(record, made)
        if record.ts is not None:
            self.follow(record)
        log.info("%s started session %s in %s", user, session_id, record.channel)
        return record, note

    async def resume(self) -> int:
        """Follow every session this bot posted that had not ended when it stopped."""
        records = [r for r in await self.bot.store.sessions.unfinished() if r.ts is not None]
        for record in records:
            self.follow(record)
        if records:
            log.info("resumed following %d unfinished session(s)", len(records))
        return len(records)

    def follow(self, record: SessionMessage) -> None:
        if record.session_id in self._tasks:
            return
        view = SessionView(record.session_id, record.subject, record.user_id)
        follower = SessionFollower(self.bot, record, view)
        task = asyncio.create_task(follower.run(), name=f"slack-session-{record.session_id}")
        self.followers[record.session_id] = follower
        self._tasks[record.session_id] = task
        task.add_done_callback(lambda t: self._followed(record.session_id, t))

    def _followed(self, session_id: str, task: asyncio.Task[None]) -> None:
        self.followers.pop(session_id, None)
        self._tasks.pop(session_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("following session %s crashed", session_id, exc_info=task.exception())

    async def _post(
        self, record: SessionMessage, made: dict[str, Any]
    ) -> tuple[SessionMessage, str | None]:
        """Post the message in its channel, or in a DM when the bot is not a member."""
        view = SessionView(record.session_id, record.subject, record.user_id)
        view.refreshed(made)
        text, blocks = session_message(view)
        posted = await post_where_seen(
            self.bot.slack,
            record.channel,
            record.user_id,
            text,
            blocks,
            what=f"session {record.session_id}",
        )
        if posted is not None:
            await self.bot.store.sessions.set_message(record.session_id, posted.channel, posted.ts)
            updated = await self.bot.store.sessions.get(record.session_id)
            assert updated is not None
            return updated, posted.note
        await self.bot.store.sessions.mark_done(record.session_id)
        return record, "I could not post the session's message in Slack; use the web chat."

    # -- acting --------------------------------------------------------------------------

    async def state(self, session_id: str, user: SlackUser) -> dict[str, Any]:
        """The session as GenFlow shows it to `user` (APIError 404: not theirs, or gone)."""
        return await self.bot.person(user).session(session_id)

    async def act(
        self,
        session_id: str,
        action: str,
        parameters: dict[str, Any],
        user: SlackUser,
        detail: str | None = None,
    ) -> str | None:
        """Send a Slack user's action, acting for them; None on success, else what to
        tell them."""
        clicks = self.bot.store.sessions
        refusal: APIError | None = None
        async with self._sending_click(session_id):
            click_id = await clicks.add_click(session_id, action, user.user, detail)
            try:
                await self.bot.person(user).session_action(session_id, action, parameters)
            except APIError as exc:
                await clicks.drop_click(click_id)
                refusal = exc
        if refusal is not None and refusal.status == 409:
            return await self.conflict(session_id, refusal.message)
        if refusal is not None:
            return await self.refused(session_id, refusal, "send that to the session")
        record = await clicks.get(session_id)
        if record is not None and not record.done and record.ts is not None:
            self.follow(record)  # e.g. its follower stopped on an error: watch it again
        return None

    @contextlib.asynccontextmanager
    async def _sending_click(self, session_id: str) -> AsyncIterator[None]:
        self._sending[session_id] += 1
        try:
            yield
        finally:
            self._sending[session_id] -= 1
            if not self._sending[session_id]:
                del self._sending[session_id]
            async with self._sent:
                self._sent.notify_all()
            self._changed(session_id)

    async def clicks_settled(self, session_id: str) -> None:
        """Until no click of the session is being sent: whether GenFlow took it decides
        whether the message shows it."""
        async with self._sent:
            await self._sent.wait_for(lambda: session_id not in self._sending)

    async def refused(self, session_id: str, exc: APIError, doing: str) -> str:
        """What to tell a person GenFlow refused: a session the bot still sees is not
        theirs (403, 404); one nobody sees is gone (404) or expired (410)."""
        if exc.status == 404:
            try:
                await self.bot.genflow.session(session_id)
            except APIError:
                return ":mag: That session no longer exists in GenFlow (or it expired)."
        if exc.status in (403, 404):
            record = await self.bot.store.sessions.get(session_id)
            return texts.not_yours(record.user_id if record else None)
        if exc.status == 410:
            return ":mag: That session no longer exists in GenFlow (or it expired)."
        return texts.api_error(exc, doing)

    async def conflict(self, session_id: str, why: str) -> str:
        """What to tell someone whose action the session no longer offers."""
        earlier = await self.bot.store.sessions.clicks(session_id)
        last = clicked(earlier[-1].action, earlier[-1].user_id) if earlier else None
        return texts.session_conflict(why or "it is not available now", last)

    def _changed(self, session_id: str) -> None:
        follower = self.followers.get(session_id)
        if follower is not None:
            follower.changed()
