"""Accounts: add, list, remove, change a password, log in, and the first admin.

A login costs the same whether the account exists or not (a dummy hash is checked for a
name nobody has) and answers the same 401 for a wrong name or a wrong password. Before
any check, every attempt takes a token from two buckets: one per username (guessing one
person's password) and one per client address (trying many names); either empty is a
429 with Retry-After. Passwords are never logged, stored or echoed, only their hashes.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from backend.auth import write_private
from backend.domain import utcnow
from backend.errors import Conflict, NotFound, Unauthorized
from backend.people import passwords
from backend.people.model import LOGIN, NAME, Account, TokenRecord, account_name
from backend.people.tokens import ADMIN, TokenService
from backend.ratelimit import RateLimiter
from backend.settings import Settings
from backend.store.base import PeopleStore

log = logging.getLogger(__name__)

BAD_LOGIN = "wrong username or password"
TOO_MANY = "too many login attempts; try again later"


class AccountService:
    def __init__(
        self,
        store: PeopleStore,
        tokens: TokenService,
        *,
        settings: Settings,
        by_name: RateLimiter,
        by_address: RateLimiter,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.settings = settings
        self.by_name = by_name
        self.by_address = by_address

    async def aclose(self) -> None:
        await self.by_name.aclose()
        await self.by_address.aclose()

    # -- managing ----------------------------------------------------------------------

    async def add(self, name: str, password: str, *, admin: bool = False) -> Account:
        """Conflict when the name is taken; InvalidInput for a bad name or password."""
        name = account_name(name)
        passwords.check_rules(password)
        account = Account(
            name=name,
            password_hash=await passwords.hash_password(password),
            admin=admin,
            created_at=utcnow(),
        )
        await self.store.create_account(account)
        log.info("account %s added%s", name, " (admin)" if admin else "")
        return account

    async def accounts(self) -> list[Account]:
        return await self.store.list_accounts()

    async def remove(self, name: str) -> list[str]:
        """Delete the account and revoke every token of its principal (everywhere); the
        ids revoked. The principal's jobs stay (an admin still sees them)."""
        name = name.strip().lower()
        revoked = await self.store.delete_account(name, utcnow())
        if revoked is None:
            raise NotFound(f"no account named {name!r}")
        await self.tokens.announce(revoked)
        self._forget_generated_password(name)
        log.info("account %s removed, %d token(s) revoked", name, len(revoked))
        return revoked

    async def set_password(self, name: str, password: str) -> None:
        name = name.strip().lower()
        passwords.check_rules(password)
        if not await self.store.set_password(name, await passwords.hash_password(password)):
            raise NotFound(f"no account named {name!r}")
        self._forget_generated_password(name)
        log.info("password of %s changed", name)

    async def ensure_first_admin(self) -> str | None:
        """On a GenFlow with no accounts: the account `admin` with a generated password,
        written to admin.password (0600). The password, or None when accounts exist."""
        if await self.store.count_accounts():
            return None
        password = passwords.generate()
        try:
            await self.add(ADMIN, password, admin=True)
        except Conflict:  # another replica made it first
            return None
        path = self.settings.admin_password_path
        write_private(path, password + "\n")
        log.warning("created the first admin account %r; its password is in %s", ADMIN, path)
        return password

    def _forget_generated_password(self, name: str) -> None:
        """admin.password holds the first admin's generated password until it changes."""
        if name == ADMIN:
            self.settings.admin_password_path.unlink(missing_ok=True)

    # -- logging in --------------------------------------------------------------------

    async def login(self, username: str, password: str, address: str) -> tuple[str, TokenRecord]:
        """A new login token for the account; Unauthorized (the same for an unknown name
        and a wrong password) or RateLimited."""
        name = username.strip().lower()
        await self.by_address.check(address)
        await self.by_name.check(name)
        account = await self.store.get_account(name) if NAME.match(name) else None
        matched = await passwords.matches(account.password_hash if account else None, password)
        if account is None or not matched:
            # The name only when it is an account's: a password typed into the username
            # field must not end up in the log.
            who = f"account {name}" if account else "an unknown account"
            log.warning("failed login for %s from %s", who, address)
            raise Unauthorized(BAD_LOGIN)
        if passwords.needs_rehash(account.password_hash):
            await self.store.set_password(name, await passwords.hash_password(password))
        ttl = timedelta(seconds=self.settings.login_token_ttl)
        token, record = await self.tokens.issue(name, admin=account.admin, ttl=ttl, kind=LOGIN)
        log.info("login of %s from %s (token %s)", name, address, record.id)
        return token, record
