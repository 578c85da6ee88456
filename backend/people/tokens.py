"""Tokens: issued with an id that is recorded first, checked on every request, revoked.

`authenticate` is the one check every surface's token goes through: the signature and
expiry (`auth.verify_token`), then whether its id is live in the store (`live.py`,
cached per replica for a few seconds, told of revocations at once). A revocation takes
effect at once on the replica that made it, on the others as soon as they hear of it
over Redis, and within GENFLOW_TOKEN_CACHE_SECONDS even if they never do.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from backend.auth import ADMIN_TOKEN_TTL, Principal, issue_token, verify_token, write_private
from backend.domain import utcnow
from backend.errors import NotFound, Unauthorized
from backend.ids import new_id
from backend.people.live import LiveTokens
from backend.people.model import ADMIN_FILE, EXPIRED, LIVE, REVOKED, TokenRecord
from backend.people.revocations import Revocations
from backend.store.base import PeopleStore

log = logging.getLogger(__name__)

ID_PREFIX = "tok"
ADMIN = "admin"  # the principal of admin.token, and the first admin account's name
PRUNE_AFTER = timedelta(days=7)  # records of tokens expired longer ago are deleted
REFUSED = {
    REVOKED: "the token has been revoked",
    EXPIRED: "the token has expired",
}
NOT_ISSUED = "the token is not one this server issued (or its record was deleted)"


class TokenService:
    def __init__(
        self,
        store: PeopleStore,
        revocations: Revocations,
        *,
        cache_seconds: float,
        secret: str = "",
    ) -> None:
        self.store = store
        self.revocations = revocations
        self.secret = secret
        self.live = LiveTokens(store.get_token, seconds=cache_seconds)

    async def start(self, secret: str) -> None:
        """Serve with `secret`; hear of other processes' revocations; prune old records."""
        self.secret = secret
        await self.revocations.start(self.live.revoked, self.live.forget_live)
        pruned = await self.store.prune_tokens(utcnow() - PRUNE_AFTER)
        if pruned:
            log.info("forgot %d token(s) expired more than %s ago", pruned, PRUNE_AFTER)

    async def aclose(self) -> None:
        await self.revocations.aclose()

    # -- issuing ---------------------------------------------------------------------

    async def issue(
        self, sub: str, *, admin: bool, ttl: timedelta, kind: str
    ) -> tuple[str, TokenRecord]:
        """A token for `sub`, recorded before it is returned (so it works everywhere)."""
        now = utcnow()
        record = TokenRecord(
            id=new_id(ID_PREFIX),
            principal=sub,
            admin=admin,
            kind=kind,
            created_at=now,
            expires_at=now + ttl,
        )
        token = issue_token(self.secret, sub, admin=admin, ttl=ttl, jti=record.id)
        await self.store.record_token(record)
        return token, record

    async def ensure_admin_file(self, path: Path) -> str:
        """The admin token in the data dir for the web chat and the bots, issued again
        when it is missing, no longer accepted (expired, revoked, signed with another
        secret), or from before tokens had ids."""
        token = _read(path)
        if token:
            try:
                caller = await self.authenticate(token)
            except Unauthorized as exc:
                log.warning(
                    "%s is no longer accepted (%s): issuing a new one; restart the web chat "
                    "and bots that read the old one",
                    path,
                    exc.message,
                )
            else:
                if caller.admin:
                    return token
        token, _ = await self.issue(ADMIN, admin=True, ttl=ADMIN_TOKEN_TTL, kind=ADMIN_FILE)
        write_private(path, token + "\n")
        return token

    # -- checking --------------------------------------------------------------------

    async def authenticate(self, token: str) -> Principal:
        """The caller a token names, if it is valid and live; Unauthorized otherwise."""
        caller = verify_token(self.secret, token)
        assert caller.token_id is not None  # verify_token refuses tokens without one
        state = await self.live.state(caller.token_id)
        if state != LIVE:
            raise Unauthorized(REFUSED.get(state, NOT_ISSUED))
        return caller

    # -- listing and revoking ----------------------------------------------------------

    async def visible(
        self, caller: Principal, *, principal: str | None, limit: int, before: str | None
    ) -> list[TokenRecord]:
        """The caller's tokens; an admin's view is everyone's, or `principal`'s."""
        whose = (principal or None) if caller.admin else caller.sub
        return await self.store.list_tokens(principal=whose, limit=limit, before=before)

    async def revoke(self, token_id: str, caller: Principal) -> TokenRecord:
        """Revoke one of the caller's tokens (any token, for admins); 404 otherwise."""
        record = await self.store.get_token(token_id)
        if record is None or not caller.can_see(record.principal):
            raise NotFound(f"token {token_id!r} not found")
        revoked = await self.revoke_id(token_id)
        assert revoked is not None  # records are only deleted long after they expire
        return revoked

    async def revoke_id(self, token_id: str) -> TokenRecord | None:
        """Revoke a token by id (the CLI's way); None when no such token was issued."""
        record = await self.store.revoke_token(token_id, utcnow())
        if record is not None:
            await self.announce([token_id])
            log.info("revoked token %s of %s", token_id, record.principal)
        return record

    async def announce(self, token_ids: list[str]) -> None:
        """Revoked in the store: refuse them here at once, and tell the other processes."""
        self.live.revoked(token_ids)
        await self.revocations.publish(token_ids)


def _read(path: Path) -> str | None:
    """A small file at start-up (too small to be worth a thread)."""
    return path.read_text().strip() if path.exists() else None
