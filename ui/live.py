"""Following a tab's job: replay its events, then stream them live, until there is nothing
to watch.

A follower ends when the job ends, when the job stops for a person's review, or when
another follower takes over the tab. Ending at a review is what keeps Gradio's workers
free: a job may wait for hours, and a generator waiting with it would hold a worker the
whole time. While a review is open the tab polls instead (`moved_on`), and a fresh
follower starts when the review is decided, here or anywhere else, or an event (a
reminder) came meanwhile.

The SSE stream is read by a separate task into the follower's inbox, so the follower can
render a burst of events once, notice a lost connection while the stream is quiet, and be
woken by STOP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from backend.client import APIError, GenFlowClient, Unreachable
from ui.artifacts import ArtifactFiles
from ui.conversation import ChatView
from ui.errors import explain
from ui.session import STOP, Session

ENDED = object()  # the event stream ended (after the job's terminal event)
LOST = "⚠ Connection to the GenFlow API lost; reconnecting…"


async def follow(
    client: GenFlowClient,
    session: Session,
    artifacts: ArtifactFiles,
    *,
    idle: float = 5.0,
    retry: float = 2.0,
) -> AsyncIterator[None]:
    """Bring the session's view up to date, live; yield each time it changed."""
    view = session.view
    if view is None:
        return
    inbox = session.take_over()
    try:
        snapshot = await _snapshot(client, session, inbox, retry)
        if snapshot is None:
            return
        if session.problem is not None:
            session.problem = None
            yield
        if isinstance(snapshot, APIError):  # no such job (or not ours): nothing to show
            session.drop_view(explain(snapshot))
            yield
            return
        view.snapshot(snapshot)  # may this person cancel it, decide its review (now known)
        stop_at = snapshot["last_seq"]
        if view.last_seq >= stop_at and (view.finished or view.review is not None):
            yield
            return
        pump = asyncio.create_task(_pump(client, view.job_id, view.last_seq, inbox))
        try:
            async for _ in _consume(client, session, inbox, artifacts, stop_at, idle):
                if view.unjudged:  # a review opened since the snapshot: is it theirs?
                    await _judge(client, view)
                yield
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
    finally:
        session.release(inbox)


async def _snapshot(
    client: GenFlowClient, session: Session, inbox: asyncio.Queue[Any], retry: float
) -> dict[str, Any] | APIError | None:
    """The job now (or the API's refusal); waits out an unreachable API. None: superseded."""
    assert session.view is not None
    while True:
        try:
            return await client.job(session.view.job_id)
        except Unreachable as exc:
            session.problem = explain(exc)
        except APIError as exc:
            return exc
        with contextlib.suppress(TimeoutError):
            if await asyncio.wait_for(inbox.get(), retry) is STOP:
                return None
        if session.inbox is not inbox:
            return None


async def _consume(
    client: GenFlowClient,
    session: Session,
    inbox: asyncio.Queue[Any],
    artifacts: ArtifactFiles,
    stop_at: int,
    idle: float,
) -> AsyncIterator[None]:
    view = session.view
    assert view is not None
    while True:
        try:
            batch = [await asyncio.wait_for(inbox.get(), idle)]
        except TimeoutError:
            if await _check_connection(client, session):
                yield
            continue
        while not inbox.empty():
            batch.append(inbox.get_nowait())
        ended = False
        for item in batch:
            if item is STOP or session.inbox is not inbox:
                return  # another follower owns the view now
            if item is ENDED:
                ended = True
            elif isinstance(item, BaseException):
                session.say(explain(item))
                ended = True
            else:
                view.apply(item)
        session.problem = None
        await artifacts.fetch(client, view.pictures())
        yield
        if ended or view.finished or (view.review is not None and view.last_seq >= stop_at):
            return


async def _judge(client: GenFlowClient, view: ChatView) -> None:
    """Ask the API whether this page's person may decide the review that opened: a job
    snapshot says (`may_decide`). Until one does, the page shows no decision buttons; if
    this one fails, the review timer asks again (`moved_on`)."""
    with contextlib.suppress(APIError, Unreachable):
        view.snapshot(await client.job(view.job_id))


async def _check_connection(client: GenFlowClient, session: Session) -> bool:
    """While the stream is quiet, tell the person if the API is gone. True if that changed."""
    assert session.view is not None
    before = session.problem
    try:
        await client.job(session.view.job_id)
        session.problem = None
    except Unreachable:
        session.problem = LOST
    except APIError:
        pass
    return session.problem != before


async def _pump(client: GenFlowClient, job_id: str, after: int, inbox: asyncio.Queue[Any]) -> None:
    try:
        async with contextlib.aclosing(client.follow(job_id, after)) as events:
            async for event in events:
                inbox.put_nowait(event)
        inbox.put_nowait(ENDED)
    except APIError as exc:
        inbox.put_nowait(exc)
    except Exception as exc:  # a bug or an odd response: tell the person, end the follower
        inbox.put_nowait(exc)


async def moved_on(client: GenFlowClient, session: Session) -> bool:
    """Whether the job waiting at the review this tab shows has news for it: the review
    was decided (anywhere), the job moved on, an event came while it waits (the review's
    half-time reminder), or the page does not know yet whether its person may decide the
    review. A new follower then catches up (and its snapshot says)."""
    view = session.view
    if view is None or view.review is None:
        return False
    if view.unjudged:
        return True
    job = await client.job(view.job_id)
    review = job.get("review") or {}
    if job["status"] != "waiting_for_review" or review.get("id") != view.review.get("id"):
        return True
    return int(job.get("last_seq") or 0) > view.last_seq
