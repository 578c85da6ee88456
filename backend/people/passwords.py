"""Password hashing: argon2id (argon2-cffi), off the event loop, at most two at a time.

One hash or check costs tens of milliseconds of CPU and 19 MiB of memory (OWASP's argon2id
baseline: m=19 MiB, t=2, p=1), so it runs on a pool of two threads of its own: the event
loop never waits for it, and a burst of logins queues there instead of taking every core
and a gigabyte of memory. A check for an account that does not exist is made against a
dummy hash, so it takes as long as one for an account that does.
"""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.errors import InvalidInput

MIN_CHARS, MAX_CHARS = 8, 1024  # the upper bound keeps one check cheap
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_pool = ThreadPoolExecutor(2, thread_name_prefix="genflow-argon2")


def check_rules(password: str) -> None:
    """InvalidInput (never quoting the password) unless it is 8-1024 characters."""
    if not MIN_CHARS <= len(password) <= MAX_CHARS:
        raise InvalidInput(
            f"a password is {MIN_CHARS} to {MAX_CHARS} characters",
            [{"field": "password", "message": f"{MIN_CHARS} to {MAX_CHARS} characters"}],
        )


def generate() -> str:
    """A password for an account nobody chose one for (the first admin): 144 random bits."""
    return secrets.token_urlsafe(18)


def hash_now(password: str) -> str:
    return _hasher.hash(password)


def matches_now(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed; with no hash, a check of equal cost, False."""
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_now, password)


async def matches(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(
        _pool, matches_now, password_hash, password
    )


@cache
def _dummy() -> str:
    return _hasher.hash(secrets.token_urlsafe(18))
