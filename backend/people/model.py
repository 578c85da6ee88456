"""Accounts and token records, as the store keeps them.

An account's name IS its principal (a token's `sub`), so the jobs a person owns follow
the name. Names are lowercase and never contain `:`, which principals of other surfaces
use (`slack:T1:U2`): no account can pass for a Slack user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.domain import isoformat
from backend.errors import InvalidInput

NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
RESERVED_NAMES = frozenset({"genflow"})  # decides reviews whose deadline passed

# What issued a token (the `kind` column).
LOGIN, CLI, ADMIN_FILE = "login", "cli", "admin-file"
KINDS = (LOGIN, CLI, ADMIN_FILE)

# A token's state, as the API shows it and the revocation check decides by.
LIVE, REVOKED, EXPIRED, UNKNOWN = "active", "revoked", "expired", "unknown"


def account_name(raw: str) -> str:
    """The account name `raw` stands for (trimmed, lowercase), or InvalidInput."""
    name = raw.strip().lower()
    if not NAME.match(name):
        raise InvalidInput(
            "an account name is 1-64 characters: lowercase letters, digits, '.', '_', '@' "
            "or '-', starting with a letter or digit",
            [{"field": "name", "message": "not a valid account name"}],
        )
    if name in RESERVED_NAMES:
        raise InvalidInput(
            f"{name!r} is reserved", [{"field": "name", "message": "a reserved name"}]
        )
    return name


@dataclass(frozen=True)
class Account:
    name: str
    password_hash: str  # argon2id; never leaves the backend
    admin: bool
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "admin": self.admin, "created_at": isoformat(self.created_at)}


@dataclass(frozen=True)
class TokenRecord:
    id: str  # the JWT's jti
    principal: str
    admin: bool
    kind: str  # LOGIN | CLI | ADMIN_FILE
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return REVOKED
        return LIVE if self.expires_at > now else EXPIRED

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "principal": self.principal,
            "admin": self.admin,
            "kind": self.kind,
            "status": self.state(now),
            "created_at": isoformat(self.created_at),
            "expires_at": isoformat(self.expires_at),
            "revoked_at": isoformat(self.revoked_at) if self.revoked_at else None,
        }
