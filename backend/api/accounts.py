"""Accounts and tokens over HTTP: log in, who am I, list and revoke tokens.

`POST /api/auth/login` is the one route that reads a password. Its body is checked here
with messages that never quote a value (a JSON Schema message would: "'hunter2' is too
long"), and the answer is the same 401 for a wrong name or a wrong password.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from backend.api.common import int_arg, json_body, principal
from backend.domain import isoformat, utcnow
from backend.errors import InvalidInput
from backend.people.passwords import MAX_CHARS
from backend.services import services

blueprint = Blueprint("accounts", __name__)

MAX_USERNAME_CHARS = 200

LOGIN: dict[str, Any] = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": MAX_USERNAME_CHARS},
        "password": {"type": "string", "minLength": 1, "maxLength": MAX_CHARS},
    },
    "required": ["username", "password"],
    "additionalProperties": False,
}
# What json_body checks: only the shape (messages name keys, never values).
_LOGIN_SHAPE: dict[str, Any] = {
    "type": "object",
    "properties": {"username": {}, "password": {}},
    "required": ["username", "password"],
    "additionalProperties": False,
}


@blueprint.post("/api/auth/login")
async def login() -> tuple[dict[str, Any], int, dict[str, str]]:
    body = await json_body(_LOGIN_SHAPE)
    username = _text(body, "username", MAX_USERNAME_CHARS)
    password = _text(body, "password", MAX_CHARS)
    address = client_address()
    token, record = await services().accounts.login(username, password, address)
    answer = {
        "token": token,
        "token_id": record.id,
        "expires_at": isoformat(record.expires_at),
        "principal": record.principal,
        "admin": record.admin,
    }
    return answer, 200, {"Cache-Control": "no-store"}


def client_address() -> str:
    """Who is logging in, for the per-address limit: the peer, or the address a trusted
    peer (GENFLOW_FORWARDED_ALLOW_IPS, by default this machine: the web chat) forwards
    as the last X-Forwarded-For entry, so that web users are not limited as one."""
    peer = request.remote_addr or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
    if forwarded and peer in services().settings.forwarded_allow_ips:
        return forwarded[:100]
    return peer


@blueprint.get("/api/auth/me")
async def me() -> dict[str, Any]:
    caller = principal()
    return {"principal": caller.sub, "admin": caller.admin, "token_id": caller.token_id}


@blueprint.get("/api/auth/tokens")
async def tokens() -> dict[str, Any]:
    caller = principal()
    limit = int_arg("limit", 50, low=1, high=200)
    records = await services().tokens.visible(
        caller,
        principal=request.args.get("principal") or None,
        limit=limit,
        before=request.args.get("cursor") or None,
    )
    now = utcnow()
    next_cursor = records[-1].id if len(records) == limit else None
    return {"tokens": [r.to_json(now) for r in records], "next_cursor": next_cursor}


@blueprint.delete("/api/auth/tokens/<token_id>")
async def revoke(token_id: str) -> tuple[str, int]:
    await services().tokens.revoke(token_id, principal())
    return "", 204


def _text(body: dict[str, Any], field: str, limit: int) -> str:
    value = body[field]
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise InvalidInput(
            f"{field} must be a string of 1 to {limit} characters",
            [{"field": f"body.{field}", "message": f"a string of 1 to {limit} characters"}],
        )
    return value
