"""Tokens (JWT, HS256), principals, and who may see what.

On first start with no GENFLOW_SECRET the server generates a secret into the data
directory (mode 0600). Every token carries an id (`jti`) that the server recorded when it
issued the token; whether that id is still live (not revoked) is `people.tokens`' check,
made on every request. A token without an id predates revocation and is refused.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import jwt

from backend.domain import utcnow
from backend.errors import InvalidInput, NotFound, Unauthorized
from backend.settings import Settings

ALGORITHM = "HS256"
ADMIN_TOKEN_TTL = timedelta(days=365)


@dataclass(frozen=True)
class Principal:
    sub: str
    admin: bool = False
    token_id: str | None = field(default=None, compare=False)  # the `jti` it came with
    # Other principals that are this person (a linked Slack user: people/acting.py).
    aliases: frozenset[str] = field(default=frozenset(), compare=False)
    agent: str | None = field(default=None, compare=False)  # the admin acting for them

    @property
    def names(self) -> frozenset[str]:
        """Every principal this caller is: a review assigned to any of them is theirs."""
        return self.aliases | {self.sub}

    def can_see(self, owner: str) -> bool:
        return self.admin or owner == self.sub

    def check_owns(self, owner: str, what: str) -> None:
        """404, not 403: another principal's things do not exist for you."""
        if not self.can_see(owner):
            raise NotFound(f"{what} not found")


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner may read (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def load_secret(settings: Settings) -> str:
    """GENFLOW_SECRET, or the generated one in the data dir (created on first use)."""
    if settings.secret:
        return settings.secret
    path = settings.data_dir / "secret"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    write_private(path, secret)
    return secret


def issue_token(
    secret: str, sub: str, *, admin: bool = False, ttl: timedelta, jti: str | None = None
) -> str:
    """A signed token. The server accepts it only with a `jti` it recorded: issue tokens
    through `people.tokens.TokenService`, which records them."""
    if not sub or len(sub) > 200:
        raise InvalidInput("sub must be 1-200 characters")
    now = utcnow()
    claims: dict[str, object] = {"sub": sub, "iat": now, "exp": now + ttl}
    if jti is not None:
        claims["jti"] = jti
    if admin:
        claims["scope"] = "admin"
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    """The principal a validly signed, unexpired token names. Revocation is the token
    service's check, made on every call after this one."""
    key = (secret, token)
    if (known := _verified.get(key)) is not None:
        if known[1] <= time.time():
            _verified.pop(key, None)
            raise Unauthorized("the token has expired")
        return known[0]
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired") from exc
    except (jwt.PyJWTError, ValueError) as exc:  # ValueError: a lone surrogate, say
        raise Unauthorized("the token is not valid") from exc
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise Unauthorized(
            "the token has no id (it was issued before tokens could be revoked): "
            "log in again or issue a new one with `genflow token create`"
        )
    scope = str(claims.get("scope", "")).split()
    caller = Principal(sub=str(claims["sub"]), admin="admin" in scope, token_id=jti)
    while len(_verified) >= VERIFIED_CACHE:
        _verified.pop(next(iter(_verified)))  # the oldest entry
    _verified[key] = (caller, float(claims["exp"]))
    return caller


# Tokens whose signature was checked, until they expire: a client sends the same token
# on every call, and decoding it (HMAC, base64, JSON) was a tenth of a request's CPU
# (docs/performance.md). Keyed by the secret too, so a new secret checks afresh.
VERIFIED_CACHE = 4096
_verified: dict[tuple[str, str], tuple[Principal, float]] = {}


def bearer_token(authorization: str | None, query_token: str | None) -> str:
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        return value.strip()
    if query_token:
        return query_token
    raise Unauthorized("a token is required: 'Authorization: Bearer <token>'")


_TTL = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_ttl(text: str) -> timedelta:
    match = _TTL.match(text.strip())
    if not match:
        raise InvalidInput(f"invalid ttl {text!r}: use a number and s, m, h, d or w (e.g. 30d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
