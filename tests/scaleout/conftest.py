"""Fixtures for the scale-out tests: a fake model process and a cluster to fill."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIProcess
from tests.scaleout.cluster import RULES, Cluster


@pytest.fixture
def model() -> Iterator[FakeOpenAIProcess]:
    fake = FakeOpenAIProcess().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
async def cluster(
    tmp_path: Path, postgres_url: str, redis_url: str, model: FakeOpenAIProcess
) -> AsyncIterator[Cluster]:
    model.control(reset=True, rules=RULES)
    running = Cluster(tmp_path, postgres_url, redis_url, model.base_url)
    try:
        yield running
    finally:
        running.stop()
