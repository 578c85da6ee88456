from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import Harness, running_app
from tests.services import postgres_url, redis_url  # real PostgreSQL and Redis fixtures

__all__ = ["harness", "postgres_url", "redis_url"]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_app(tmp_path) as h:
        yield h
