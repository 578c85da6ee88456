"""Request helpers shared by the blueprints: who is calling, and the JSON body."""

from __future__ import annotations

import json
from typing import Any

from quart import g, has_websocket_context, request, websocket

from backend.auth import Principal, bearer_token
from backend.errors import BadRequest, GenFlowError, InvalidInput, PayloadTooLarge, Unauthorized
from backend.people import acting
from backend.runtime.jobs import schema_errors
from backend.services import services


def principal(*, query_token: bool = False) -> Principal:
    """The caller, from `Authorization: Bearer`, or `?access_token=` where `query_token`,
    as `check_token` found it before the route ran (signed, unexpired, not revoked).

    Only the routes a browser cannot send headers to (EventSource, WebSocket, <img>) take
    the query form: tokens in URLs end up in logs, so nowhere else.
    """
    source = websocket if has_websocket_context() else request
    from_query = source.args.get("access_token") if query_token else None
    token = bearer_token(source.headers.get("Authorization"), from_query)
    checked = getattr(g, "genflow_caller", None)
    if checked is None or checked[0] != token:  # check_token runs before every request
        raise Unauthorized("the token could not be checked")
    if isinstance(checked[1], GenFlowError):
        raise checked[1]
    return checked[1]


async def check_token() -> None:
    """Before every request and WebSocket: the presented token's signature, expiry and
    whether it is live (not revoked: a store lookup, cached for a few seconds). This is
    the async half of `principal()`, which routes call synchronously; a route that takes
    no token ignores the outcome (a bad token, or the store down, fails only routes that
    need one)."""
    source = websocket if has_websocket_context() else request
    try:
        token = bearer_token(source.headers.get("Authorization"), source.args.get("access_token"))
    except Unauthorized:  # none, or malformed: principal() says which
        return
    outcome: Principal | GenFlowError
    try:
        outcome = await authenticate(token, source.headers.get(acting.HEADER))
    except GenFlowError as exc:  # Unauthorized, Forbidden, or StoreUnavailable (503)
        outcome = exc
    g.genflow_caller = (token, outcome)


async def authenticate(token: str, on_behalf_of: str | None) -> Principal:
    """The token's principal, or the person it acts for (`X-GenFlow-On-Behalf-Of`, or a
    realtime auth frame's `onBehalfOf`: admin tokens only, people/acting.py)."""
    parts = services()
    caller = await parts.tokens.authenticate(token)
    if on_behalf_of is None:
        return caller
    return await acting.act_for(parts.store, caller, on_behalf_of)


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
