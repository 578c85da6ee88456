"""One fake OpenAI server, one `genflow serve` and one UI process for all UI tests, and
Chromium for each module of browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.fakes.openai_server import FakeOpenAIProcess
from tests.ui.chat_page import CHROMIUM, CHROMIUM_ARGS
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
        yield Stack(fake, api, ui).add_people()
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


# Per module: sync Playwright runs an event loop of its own, which must be gone before a
# module of async tests starts.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
