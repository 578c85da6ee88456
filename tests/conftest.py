from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import Harness, running_app
from tests.services import (  # real PostgreSQL and Redis
    pg_store,
    postgres_url,
    private_postgres,
    private_redis,
    redis_url,
)

__all__ = ["harness", "pg_store", "postgres_url", "private_postgres", "private_redis", "redis_url"]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_app(tmp_path) as h:
        yield h
