"""GenFlow sessions over REST (`/api/genflow/sessions…`, the seed's camelCase shapes)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from backend.api.common import int_arg, json_body, principal
from backend.services import services
from backend.sessions.service import view

blueprint = Blueprint("sessions", __name__)

CREATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "articleId": {"type": "string", "minLength": 1, "maxLength": 200},
        "initialStage": {"type": "string"},
        "context": {"type": "object"},
    },
    "required": ["articleId"],
    "additionalProperties": False,
}
ACT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "minLength": 1, "maxLength": 100},
        "parameters": {"type": "object"},
    },
    "required": ["action"],
    "additionalProperties": False,
}


@blueprint.post("/api/genflow/sessions")
async def create_session() -> tuple[dict, int, dict]:
    body = await json_body(CREATE)
    session = await services().sessions.create(
        principal(),
        article_id=body["articleId"],
        initial_stage=body.get("initialStage", "topic"),
        context=body.get("context"),
    )
    shown = view(session)
    created = {k: shown[k] for k in ("sessionId", "availableActions", "capabilities")}
    created["progress"] = {k: shown["progress"][k] for k in ("stage", "status", "progress")}
    return created, 201, {"Location": f"/api/genflow/sessions/{session.id}"}


@blueprint.get("/api/genflow/sessions")
async def list_sessions() -> dict:
    limit = int_arg("limit", 20, low=1, high=100)
    found = await services().sessions.list(
        principal(), limit=limit, before=request.args.get("cursor") or None
    )
    return {
        "sessions": [view(s) for s in found],
        "nextCursor": found[-1].id if len(found) == limit else None,
    }


@blueprint.get("/api/genflow/sessions/<session_id>")
async def get_session(session_id: str) -> dict:
    return view(await services().sessions.get(session_id, principal()))


@blueprint.delete("/api/genflow/sessions/<session_id>")
async def delete_session(session_id: str) -> tuple[str, int]:
    await services().sessions.delete(session_id, principal())
    return "", 204


@blueprint.post("/api/genflow/sessions/<session_id>/actions")
async def act(session_id: str) -> tuple[dict, int]:
    body = await json_body(ACT)
    session, job = await services().sessions.act(
        session_id, principal(), body["action"], body.get("parameters") or {}
    )
    shown = view(session)
    if job is None:
        return {"status": session.status, "progress": shown["progress"], "session": shown}, 200
    return {"actionId": job.id, "status": "processing", "progress": shown["progress"]}, 202
