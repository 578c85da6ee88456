"""Request helpers shared by the blueprints: who is calling, and the JSON body."""

from __future__ import annotations

import json
from typing import Any

from quart import has_websocket_context, request, websocket

from backend.auth import Principal, bearer_token, verify_token
from backend.errors import BadRequest, InvalidInput, PayloadTooLarge
from backend.runtime.jobs import schema_errors
from backend.services import services


def principal() -> Principal:
    """The caller, from `Authorization: Bearer` or (for SSE/WebSocket) `?access_token=`."""
    source = websocket if has_websocket_context() else request
    token = bearer_token(source.headers.get("Authorization"), source.args.get("access_token"))
    return verify_token(services().secret, token)


async def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON object, validated against `schema` (422 lists every problem)."""
    limit = services().settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    raw = await request.get_data()
    if len(raw) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    if not raw.strip():
        raise BadRequest("a JSON body is required")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    problems = schema_errors(body, schema, "body")
    if problems:
        raise InvalidInput("invalid request body", problems)
    return body


def int_arg(name: str, default: int, *, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"{name} must be a whole number", [{"field": name, "message": "not a number"}]
        ) from exc
    if not low <= value <= high:
        raise InvalidInput(
            f"{name} must be between {low} and {high}",
            [{"field": name, "message": f"between {low} and {high}"}],
        )
    return value
