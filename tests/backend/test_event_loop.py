"""The event loop of `serve` and `worker` (backend/event_loop.py)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from backend import event_loop
from backend.cli import main
from backend.settings import Settings


async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_auto_and_uvloop_run_on_uvloop_and_asyncio_on_the_standard_loop() -> None:
    assert isinstance(event_loop.run(running_loop(), "auto"), uvloop.Loop)
    assert isinstance(event_loop.run(running_loop(), "uvloop"), uvloop.Loop)
    standard = event_loop.run(running_loop(), "asyncio")
    assert not isinstance(standard, uvloop.Loop)
    assert isinstance(standard, asyncio.BaseEventLoop)


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_loop, "_has_uvloop", lambda: False)
    assert not isinstance(event_loop.run(running_loop(), "auto"), uvloop.Loop)
    assert event_loop.problem("auto") is None
    assert event_loop.problem("uvloop") == (
        "GENFLOW_EVENT_LOOP=uvloop, but uvloop is not installed (pip install uvloop)"
    )


def test_the_loop_is_a_setting_and_a_wrong_one_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert Settings.from_env().event_loop == "auto"
    monkeypatch.setenv("GENFLOW_EVENT_LOOP", "asyncio")
    assert Settings.from_env().event_loop == "asyncio"
    monkeypatch.setenv("GENFLOW_EVENT_LOOP", "trio")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "error: GENFLOW_EVENT_LOOP must be one of auto, uvloop, asyncio, not 'trio'\n"
    )
