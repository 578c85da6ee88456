"""Real PostgreSQL and Redis for the tests, as `scripts/services` starts them.

`scripts/test` exports GENFLOW_TEST_POSTGRES_URL and GENFLOW_TEST_REDIS_URL. Without
them the tests that need a service are skipped, unless GENFLOW_TEST_REQUIRE_SERVICES=1
(CI sets it), which turns a missing service into a failure instead of a silent skip.
Every test gets a database of its own (created from the server URL, dropped after), and
Redis database keys are flushed between tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_ENV = "GENFLOW_TEST_POSTGRES_URL"
REDIS_ENV = "GENFLOW_TEST_REDIS_URL"


def _required() -> bool:
    return os.environ.get("GENFLOW_TEST_REQUIRE_SERVICES") == "1"


def service_url(variable: str) -> str:
    url = os.environ.get(variable)
    if not url:
        message = f"{variable} is not set (./scripts/test starts PostgreSQL and Redis)"
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    return url


def _driver_url(url: str) -> str:
    """psycopg's conninfo form of a SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty PostgreSQL database (dropped afterwards)."""
    import psycopg

    server = service_url(POSTGRES_ENV)
    name = f"genflow_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_driver_url(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server, name)
    finally:
        with psycopg.connect(_driver_url(server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The Redis URL, with its database emptied before and after the test."""
    import redis

    url = service_url(REDIS_ENV)
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
