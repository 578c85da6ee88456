from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flows.providers.structured_modes import MODES
from tests.harness import Harness, running_app
from tests.services import (  # real PostgreSQL and Redis
    pg_store,
    postgres_url,
    private_postgres,
    private_redis,
    redis_url,
)

__all__ = ["harness", "pg_store", "postgres_url", "private_postgres", "private_redis", "redis_url"]


@pytest.fixture(autouse=True)
def unknown_structured_modes() -> None:
    """Each test starts knowing no server's structured-output mode: the fake model servers
    of earlier tests answered at ports a later test's fake may reuse, with other rules."""
    MODES.forget()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_app(tmp_path) as h:
        yield h
