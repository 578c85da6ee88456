"""A job's events: Server-Sent Events, a JSON list, or a WebSocket.

SSE replays every durable event after `Last-Event-ID` (or `?after=N`) and then follows
live, with `: ping` heartbeats, and ends after the terminal event. When the server shuts
down, SSE streams just end (clients reconnect with Last-Event-ID, to any replica) and
WebSockets close with 1012 (service restart): 1000 always means "the job ended".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

from quart import Blueprint, Response, request, websocket

from backend.api.common import int_arg, principal
from backend.errors import GenFlowError, InvalidInput
from backend.events import Event
from backend.runtime.follow import ServerClosing, follow
from backend.services import services

blueprint = Blueprint("events", __name__)

MAX_SEQ = 2**63 - 1
NORMAL_CLOSURE = 1000  # WebSocket close codes (RFC 6455 and the IANA registry)
SERVICE_RESTART = 1012


def _after(raw: str | None, source: str) -> int:
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"{source} must be a sequence number",
            [{"field": source, "message": "not a whole number"}],
        ) from exc
    if value < 0:
        raise InvalidInput(
            f"{source} must be 0 or more", [{"field": source, "message": "negative"}]
        )
    if value > MAX_SEQ:  # a bigger int overflows the database's 64-bit integer
        raise InvalidInput(
            f"{source} must be at most {MAX_SEQ}", [{"field": source, "message": "too large"}]
        )
    return value


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return accept.best_match(["text/event-stream", "application/json"]) == "application/json" and (
        accept["application/json"] > accept["text/event-stream"]
    )


def wants_stream() -> bool:
    """Whether a request that answers JSON by default asked for the event stream instead:
    its Accept header prefers `text/event-stream` (`*/*` or none stays JSON)."""
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/event-stream"]) == "text/event-stream"


CHUNK = 64 * 1024


def sse_chunks(batch: list[Event], size: int = CHUNK) -> Iterator[bytes]:
    """The batch's SSE text in writes of about `size` bytes: small events share a write,
    a big one is cut up. Each write waits for the client to take the last one, so a
    client that stops reading holds one chunk here, not everything sent to it."""
    pending: list[bytes] = []
    length = 0
    for event in batch:
        data = event.sse_bytes()  # encoded once per event, shared by every follower
        if length + len(data) > size and pending:
            yield b"".join(pending)
            pending, length = [], 0
        if len(data) > size:
            for start in range(0, len(data), size):
                yield data[start : start + size]
            continue
        pending.append(data)
        length += len(data)
    if pending:
        yield b"".join(pending)


@blueprint.get("/api/jobs/<job_id>/events")
async def job_events(job_id: str) -> Response | dict:
    parts = services()
    job = await parts.jobs.get(job_id, principal(query_token=True))
    if _wants_json():
        after = _after(request.args.get("after"), "after")
        limit = int_arg("limit", 1000, low=1, high=5000)
        events = await parts.store.events_after(job.id, after, limit)
        return {"events": [e.to_json() for e in events], "last_seq": job.last_seq}
    header = request.headers.get("Last-Event-ID")
    after = (
        _after(header, "Last-Event-ID") if header else _after(request.args.get("after"), "after")
    )
    return sse_response(job.id, after)


def sse_response(
    job_id: str, after: int, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The job's events after `after` as Server-Sent Events, live until its terminal event."""
    parts = services()

    async def stream() -> AsyncIterator[bytes]:
        parts.metrics.followers.inc()
        try:
            yield b"retry: 2000\n\n"
            async for batch in follow(
                parts.store, parts.bus, job_id, after, parts.settings.heartbeat_seconds
            ):
                if not batch:
                    yield b": ping\n\n"
                for chunk in sse_chunks(batch):
                    yield chunk
        except ServerClosing:
            pass  # the stream ends; the client reconnects with Last-Event-ID
        finally:
            parts.metrics.followers.dec()

    response = Response(
        stream(),
        status=status,
        content_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
    )
    response.timeout = None
    return response


@blueprint.websocket("/api/jobs/<job_id>/ws")
async def job_events_ws(job_id: str) -> None:
    parts = services()
    try:
        job = await parts.jobs.get(job_id, principal(query_token=True))
        after = _after(websocket.args.get("after"), "after")
    except GenFlowError as exc:
        await websocket.accept()
        await websocket.send(json.dumps(exc.to_json()))
        await websocket.close(1008, exc.message[:120])
        return
    await websocket.accept()
    parts.metrics.followers.inc()
    code, reason = NORMAL_CLOSURE, "job ended"
    try:
        async for batch in follow(
            parts.store, parts.bus, job.id, after, parts.settings.heartbeat_seconds
        ):
            for event in batch:
                await websocket.send(event.encode_json())
    except ServerClosing:  # the client reconnects, with ?after=<last seq>, to any replica
        code, reason = SERVICE_RESTART, "server restarting"
    finally:
        parts.metrics.followers.dec()
    await websocket.close(code, reason)
