"""Tokens for tests, recorded in the store as the server records the ones it issues.

The server accepts a token only if its id (`jti`) is recorded and not revoked, so a test
that makes its own token records it too, in the database the server uses. A synchronous
write (its own short-lived engine), so that `Harness.headers()` can stay a plain method.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import create_engine

from backend.auth import issue_token
from backend.domain import utcnow
from backend.ids import new_id
from backend.people.model import CLI, TokenRecord
from backend.store import people_queries
from backend.store.migrate import driver_url, sync_url


def recorded_token(
    database_url: str,
    secret: str,
    sub: str,
    *,
    admin: bool = False,
    ttl: timedelta = timedelta(hours=1),
) -> str:
    now = utcnow()
    record = TokenRecord(
        id=new_id("tok"), principal=sub, admin=admin, kind=CLI, created_at=now,
        expires_at=now + ttl,
    )  # fmt: skip
    engine = create_engine(sync_url(driver_url(database_url)))
    try:
        with engine.begin() as conn:
            people_queries.record_token(conn, record)
    finally:
        engine.dispose()
    return issue_token(secret, sub, admin=admin, ttl=ttl, jti=record.id)
