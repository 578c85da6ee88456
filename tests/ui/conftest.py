"""One fake OpenAI server, one `genflow serve` and one UI process for all UI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIProcess
from tests.ui.stack import RULES, Stack, UIProcess, api_server

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("ui-stack")
    fake = FakeOpenAIProcess(base / "fake.log").start()
    api = ui = None
    try:
        fake.control(rules=RULES)
        api = api_server(base / "data", fake)
        api.start()
        ui = UIProcess(api, base / "ui").start()
        yield Stack(fake, api, ui)
    finally:
        if ui is not None:
            ui.stop()
        if api is not None:
            api.stop()
        fake.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
