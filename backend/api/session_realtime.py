"""`WS /api/genflow/sessions/{id}/realtime`: a session's frames, live, for any number of
clients on any replica.

The client's first frame authenticates (`{"type":"auth","token":"Bearer …",
"lastEventId"?}`) within 10 s, or the socket closes 1008. Then: a `session.state` frame
(what GET returns), every stored frame after `lastEventId`, and live frames. Stored frames
come from the store (the bus only rings: `session.frame` on the session's channel), so a
reconnect repeats and misses nothing. While a model action runs, its job's progress lines
and streamed text are relayed as live `progress.update` and `llm.delta` frames (no
`eventId`: they are not stored). A malformed client frame gets an `error` frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from typing import Any

from quart import Blueprint, websocket

from backend.api.common import authenticate
from backend.auth import Principal, bearer_token
from backend.domain import isoformat, utcnow
from backend.errors import GenFlowError, NotFound
from backend.events import Event, EventType
from backend.runtime.bus import CLOSED, Subscription
from backend.services import Services, services
from backend.sessions.model import Session
from backend.sessions.service import Expired, view

blueprint = Blueprint("session_realtime", __name__)
log = logging.getLogger(__name__)

AUTH_SECONDS = 10.0
POLICY_VIOLATION, EXPIRED, SERVICE_RESTART = 1008, 4410, 1012


def frame(session_id: str, type_: str, data: dict[str, Any], event_id: int | None) -> str:
    return json.dumps(
        {
            "type": type_,
            "data": data,
            "metadata": {
                "timestamp": isoformat(utcnow()),
                "eventId": event_id,
                "sessionId": session_id,
            },
        },
        default=str,
    )


async def _authenticate(parts: Services, session_id: str) -> tuple[Principal, Session, int]:
    """The auth frame, its token, and the caller's session; GenFlowError otherwise."""
    try:
        raw = await asyncio.wait_for(websocket.receive(), AUTH_SECONDS)
    except TimeoutError:
        raise NotFound("no auth frame within 10 s") from None
    try:
        first = json.loads(raw)
    except (TypeError, ValueError):
        raise NotFound('the first frame must be JSON: {"type": "auth", "token": …}') from None
    if not isinstance(first, dict) or first.get("type") != "auth":
        raise NotFound('the first frame must be {"type": "auth", "token": "Bearer …"}')
    token, person = first.get("token"), first.get("onBehalfOf")
    caller = await authenticate(
        bearer_token(token if isinstance(token, str) else None, None),
        person if isinstance(person, str) else None,
    )
    after = first.get("lastEventId") or 0
    if not isinstance(after, int) or after < 0:
        raise NotFound("lastEventId must be a non-negative integer")
    return caller, await parts.sessions.get(session_id, caller), after


@blueprint.websocket("/api/genflow/sessions/<session_id>/realtime")
async def realtime(session_id: str) -> None:
    parts = services()
    await websocket.accept()
    try:
        caller, session, after = await _authenticate(parts, session_id)
    except Expired as exc:
        await websocket.close(EXPIRED, exc.message[:120])
        return
    except GenFlowError as exc:
        await websocket.close(POLICY_VIOLATION, exc.message[:120])
        return
    await websocket.send(frame(session.id, "session.state", view(session), session.last_event_id))
    doorbell = parts.bus.subscribe(session.id)
    relay = _JobRelay(parts, session.id)
    reader = asyncio.create_task(_read_client(parts, session.id, caller))
    code, reason = 1000, "session closed"
    try:
        after = await _send_stored(parts, session.id, after)
        relay.follow(session)
        while True:
            items = await doorbell.get_ready(parts.settings.heartbeat_seconds)
            if CLOSED in items:
                code, reason = SERVICE_RESTART, "server restarting"
                break
            if reader.done():
                break
            if not items:  # a quiet tick: keep the socket alive, notice expiry
                await websocket.send(frame(session.id, "ping", {}, None))
            current = await parts.store.get_session(session.id)
            if current is None:
                code, reason = POLICY_VIOLATION, "session deleted"
                break
            if parts.sessions.expired(current):
                code, reason = EXPIRED, "session expired"
                break
            if items or current.last_event_id > after:  # rung, lagged, or a quiet tick
                after = await _send_stored(parts, session.id, after)
            relay.follow(current)
    finally:
        doorbell.close()
        relay.stop()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    with contextlib.suppress(Exception):
        await websocket.close(code, reason)


async def _send_stored(parts: Services, session_id: str, after: int) -> int:
    while True:
        frames = await parts.store.frames_after(session_id, after, 500)
        for stored in frames:
            await websocket.send(json.dumps(stored.to_json(), default=str))
            after = stored.event_id or after
        if len(frames) < 500:
            return after


class _JobRelay:
    """Relays the running action's job events as live frames (progress, streamed text)."""

    def __init__(self, parts: Services, session_id: str) -> None:
        self.parts, self.session_id = parts, session_id
        self.job_id: str | None = None
        self.task: asyncio.Task[None] | None = None

    def follow(self, session: Session) -> None:
        job_id = session.active_job_id if session.status == "processing" else None
        if job_id == self.job_id:
            return
        self.stop()
        self.job_id = job_id
        if job_id:
            self.task = asyncio.create_task(self._relay(job_id, session.active_action))

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def _relay(self, job_id: str, action: str | None) -> None:
        subscription: Subscription = self.parts.bus.subscribe(job_id)
        try:
            while True:
                for item in await subscription.get_ready(3600):
                    if isinstance(item, Event):
                        await self._send(item, job_id, action)
                    elif item is CLOSED:
                        return
        finally:
            subscription.close()

    async def _send(self, event: Event, job_id: str, action: str | None) -> None:
        base = {"action": action, "actionId": job_id}
        if event.type is EventType.LLM_DELTA:
            data = {**base, "text": event.data.get("text", ""), "node": event.data.get("node")}
            await websocket.send(frame(self.session_id, "llm.delta", data, None))
        elif event.type is EventType.NODE_PROGRESS:
            data = {
                **base,
                "status": "processing",
                "progress": event.progress,
                "message": event.data.get("message"),
            }
            await websocket.send(frame(self.session_id, "progress.update", data, None))


async def _read_client(parts: Services, session_id: str, caller: Principal) -> None:
    """Client frames: `request.suggestion` and `feedback`; anything else gets an error."""
    while True:
        raw = await websocket.receive()
        try:
            message = json.loads(raw)
            kind = message["type"]
            data = message.get("data") or {}
            if not isinstance(data, dict):
                raise ValueError
        except (TypeError, ValueError, KeyError):
            await _error(session_id, "bad_frame", 'a frame is JSON: {"type": …, "data": {…}}')
            continue
        try:
            if kind == "request.suggestion":
                await _even_if_closed(parts.sessions.suggest(session_id, caller, data))
            elif kind == "feedback":
                await _even_if_closed(parts.sessions.feedback(session_id, caller, data))
            else:
                await _error(
                    session_id,
                    "unknown_type",
                    f"unknown frame type {kind!r}: use request.suggestion or feedback",
                )
        except GenFlowError as exc:
            await _error(session_id, exc.code, exc.message)


_HANDLING: set[asyncio.Task[Any]] = set()


async def _even_if_closed(work: Coroutine[Any, Any, Any]) -> Any:
    """Handle a client frame to the end even when its socket closes meanwhile: a client
    may send its feedback and hang up. (Its result or error then reaches nobody.)"""
    task = asyncio.create_task(work)
    _HANDLING.add(task)
    task.add_done_callback(_forget)
    return await asyncio.shield(task)


def _forget(task: asyncio.Task[Any]) -> None:
    _HANDLING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.info("a session frame's handling failed after its socket closed: %s", task.exception())


async def _error(session_id: str, code: str, message: str) -> None:
    """An error about this client's frame goes to this client only, unstored."""
    await websocket.send(frame(session_id, "error", {"code": code, "message": message}, None))
