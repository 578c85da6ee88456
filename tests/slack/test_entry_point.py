"""`python -m bots` (what `genflow slack` runs) as its own process, configured only
through the environment, like the Procfile runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bots.config import SlackConfig
from tests.e2e.server import ROOT, GenFlowServer, free_port
from tests.fakes.slack_api import FakeSlack
from tests.slack.slack_view import buttons, showing

pytestmark = pytest.mark.timeout(60)


def bot_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENFLOW_", "SLACK_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **values}


@dataclass
class BotProcess:
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], BotProcess]]:
    """Start `python -m bots` with an environment; killed at the end if still running."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> BotProcess:
        log = tmp_path / f"bot-{len(procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bots"], cwd=ROOT, env=env, stdout=out, stderr=out
            )
        procs.append(proc)
        return BotProcess(proc, log)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_it_refuses_to_start_without_its_settings(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bots"],
        cwd=ROOT,
        env=bot_env(GENFLOW_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in done.stderr and "docs/slack.md" in done.stderr


def test_anyone_may_not_be_a_reviewer(monkeypatch: pytest.MonkeyPatch) -> None:
    """`*` would let whoever sees a job's message approve it: refused, saying why."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("GENFLOW_SLACK_REVIEWERS", "U1, SEDITORS")
    assert SlackConfig.from_env().problems() == []
    monkeypatch.setenv("GENFLOW_SLACK_REVIEWERS", "U1, *")
    (problem,) = SlackConfig.from_env().problems()
    assert problem.startswith("GENFLOW_SLACK_REVIEWERS may not be `*`: anyone who can see")


async def test_the_bot_process_serves_slack_and_stops_on_sigterm(
    slack: FakeSlack, api: GenFlowServer, tmp_path: Path, spawn: Callable[..., BotProcess]
) -> None:
    port = free_port()
    bot = spawn(
        bot_env(
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_SIGNING_SECRET=slack.signing_secret,
            GENFLOW_SLACK_PORT=str(port),
            GENFLOW_SLACK_API_URL=slack.api_url,
            GENFLOW_API_URL=api.base_url,
            GENFLOW_API_TOKEN=api.token,
            GENFLOW_DATA_DIR=str(tmp_path / "bot"),
            GENFLOW_SLACK_UPDATE_INTERVAL="0.2",
        )
    )
    async with asyncio.timeout(20), httpx.AsyncClient() as http:
        while True:
            assert bot.proc.poll() is None, bot.output
            try:
                if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.1)

    slack.bot_url = f"http://127.0.0.1:{port}/slack/events"
    reply = await slack.slash("/task", "Say hi from a process")
    assert "Started your task" in reply.text
    await showing(slack, lambda m: buttons(m) == ["Approve", "Reject", "Edit"], "review buttons")

    bot.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(bot.proc.wait, 15) == 0, bot.output
    assert "GenFlow Slack bot is up (HTTP mode" in bot.output
