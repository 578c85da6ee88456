"""Build the people parts from settings: with GENFLOW_REDIS_URL, revocations travel to
every replica over Redis and the login limits are shared; without, both stay in process."""

from __future__ import annotations

from backend.people.accounts import TOO_MANY, AccountService
from backend.people.revocations import LocalRevocations, Revocations
from backend.people.tokens import TokenService
from backend.ratelimit import LocalRateLimiter, RateLimiter
from backend.settings import Settings
from backend.store.base import PeopleStore


def build_people(
    settings: Settings, store: PeopleStore, *, secret: str = ""
) -> tuple[AccountService, TokenService]:
    revocations: Revocations
    by_name: RateLimiter
    by_address: RateLimiter
    if settings.redis_url:
        from backend.people.redis_revocations import RedisRevocations
        from backend.redis_ratelimit import RedisRateLimiter

        url = settings.redis_url
        revocations = RedisRevocations(url)
        by_name = RedisRateLimiter(
            url,
            settings.login_per_minute,
            settings.login_burst,
            prefix="genflow:login:name:",
            message=TOO_MANY,
        )
        by_address = RedisRateLimiter(
            url,
            settings.login_address_per_minute,
            settings.login_address_burst,
            prefix="genflow:login:address:",
            message=TOO_MANY,
        )
    else:
        revocations = LocalRevocations()
        by_name = LocalRateLimiter(
            settings.login_per_minute, settings.login_burst, message=TOO_MANY
        )
        by_address = LocalRateLimiter(
            settings.login_address_per_minute, settings.login_address_burst, message=TOO_MANY
        )
    tokens = TokenService(
        store, revocations, cache_seconds=settings.token_cache_seconds, secret=secret
    )
    accounts = AccountService(
        store, tokens, settings=settings, by_name=by_name, by_address=by_address
    )
    return accounts, tokens
