"""Request helpers shared by the blueprints: who is calling, and the JSON body."""

from __future__ import annotations

import json
from typing import Any

from quart import has_websocket_context, request, websocket

from backend.auth import Principal, bearer_token, verify_token
from backend.errors import BadRequest, InvalidInput, PayloadTooLarge
from backend.runtime.jobs import schema_errors
from backend.services import services


def principal(*, query_token: bool = False) -> Principal:
    """The caller, from `Authorization: Bearer`, or `?access_token=` where `query_token`.

    Only the routes a browser cannot send headers to (EventSource, WebSocket, <img>) take
    the query form: tokens in URLs end up in logs, so nowhere else.
    """
    source = websocket if has_websocket_context() else request
    from_query = source.args.get("access_token") if query_token else None
    token = bearer_token(source.headers.get("Authorization"), from_query)
    return verify_token(services().secret, token)


async def json_body(schema: dict[str, Any], *, limit: int | None = None) -> dict[str, Any]:
    """The request's JSON object, validated against `schema` (422 lists every problem).
    The body may have `limit` bytes (default GENFLOW_MAX_BODY_BYTES)."""
    limit = limit or services().settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    raw = await request.get_data()
    if len(raw) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    if not raw.strip():
        raise BadRequest("a JSON body is required")
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, big ints
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    if _depth_exceeds(body, MAX_JSON_DEPTH):
        raise BadRequest(f"the body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:  # "\ud800" parses to a lone surrogate, which no database can store
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise BadRequest("the body contains invalid unicode (a lone surrogate)") from exc
    problems = schema_errors(body, schema, "body")
    if problems:
        raise InvalidInput("invalid request body", problems)
    return body


MAX_JSON_DEPTH = 32


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether objects/arrays nest deeper than `limit` (iterative: no recursion to blow)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


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
