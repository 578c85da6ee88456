"""Following a tab's GenFlow session over its realtime socket, until there is nothing to
watch.

A follower ends when the session is settled: no action running, every stored frame seen
(and the document re-read after them). A session waits for its
person most of the time, for up to hours, and a generator waiting with it would hold one
of Gradio's workers all that time; so while it waits, the page polls it (`changed`) and a
fresh follower starts when anything happened, on this page or anywhere else.

As in `ui.live`, a separate task reads the socket (`client.session_frames`, which
reconnects by itself) into the follower's inbox, so a burst of streamed text is rendered
once, a quiet stream still notices a lost API, and STOP wakes the follower.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from backend.client import APIError, GenFlowClient, Unreachable
from ui.errors import explain
from ui.session_view import STOP, SessionTab

LOST = "⚠ Connection to the GenFlow API lost; reconnecting…"


def session_problem(exc: BaseException) -> str:
    """Plain text for the status panel: why the session cannot be shown or changed."""
    if isinstance(exc, APIError) and not isinstance(exc, Unreachable):
        if exc.status == 404:
            return "⚠ Not found: no such session (or it is not yours)."
        if exc.status == 410:
            return "⚠ This session expired (it was idle too long). Start a new one."
    return explain(exc).replace("**", "").replace("`", "")


async def follow(
    client: GenFlowClient, tab: SessionTab, *, idle: float = 5.0
) -> AsyncIterator[None]:
    """Bring the tab's session up to date, live; yield each time it changed."""
    if tab.session_id is None:
        return
    inbox = tab.take_over()
    pump = asyncio.create_task(_pump(client, tab.session_id, tab.last_event_id, inbox))
    try:
        async for _ in _consume(client, tab, inbox, idle):
            yield
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        tab.release(inbox)


async def _consume(
    client: GenFlowClient, tab: SessionTab, inbox: asyncio.Queue[Any], idle: float
) -> AsyncIterator[None]:
    while True:
        try:
            batch = [await asyncio.wait_for(inbox.get(), idle)]
        except TimeoutError:  # quiet: is the API still there?
            if await reread(client, tab):
                yield
            if tab.session_id is None or tab.settled:
                return
            continue
        while not inbox.empty():
            batch.append(inbox.get_nowait())
        for item in batch:
            if item is STOP or tab.inbox is not inbox:
                return  # another follower owns the tab now
            if isinstance(item, BaseException):
                tab.drop(session_problem(item))
                yield
                return
            tab.apply(item)
        if tab.stale:
            await reread(client, tab)
        yield
        if tab.session_id is None or tab.settled:
            return


async def reread(client: GenFlowClient, tab: SessionTab) -> bool:
    """GET the session again (after stored frames, or to check on a quiet socket).
    Whether what the page shows changed. A gone or expired session is dropped."""
    if tab.session_id is None:
        return False
    before = (tab.problem, tab.state)
    try:
        tab.read(await client.session(tab.session_id))
        tab.problem = None
    except Unreachable:
        tab.problem = LOST
    except APIError as exc:
        tab.drop(session_problem(exc))
    return (tab.problem, tab.state) != before


async def changed(client: GenFlowClient, tab: SessionTab) -> bool:
    """While no follower runs: did anything happen to the session since the page saw it
    (a frame stored, an action started elsewhere)? Then a follower should catch up."""
    if tab.session_id is None or tab.following:
        return False
    state = await client.session(tab.session_id)
    behind = int(state.get("lastEventId") or 0) > tab.last_event_id
    return behind or state.get("progress", {}).get("status") == "processing"


async def _pump(
    client: GenFlowClient, session_id: str, after: int, inbox: asyncio.Queue[Any]
) -> None:
    try:
        async with contextlib.aclosing(client.session_frames(session_id, after)) as frames:
            async for frame in frames:
                inbox.put_nowait(frame)
    except Exception as exc:  # 404/410, a bug or an odd frame: tell the person, stop
        inbox.put_nowait(exc)
